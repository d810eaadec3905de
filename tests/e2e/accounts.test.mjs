// Staff sign-in and the Accounts page in the real desktop window. Every sign-in goes through the
// app's second window (Tauri label `oauth`), driven through WebKitWebDriver: it is one more
// window handle of the session (see harness.mjs). The four Chinese providers are the app's
// built-in fakes (no credentials configured: sandbox); OpenID Connect is the real test provider
// that the README's test command starts (tests/oidc, OPSDECK_TEST_OIDC_ISSUER). Each test runs
// its own app on its own data dir, so its first sign-in is the first ever: admin.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import {
  approveSignIn,
  closeWindowAsUser,
  oidcConfig,
  openConsole,
  signIn,
  signOut,
  waitFor,
} from './harness.mjs'

// The built-in fakes' users (FakeOAuthConfig::sandbox in crates/opsdeck-sandbox/src/oauth/mod.rs).
const WEIBO_ONE = '5678001'
const WEIBO_TWO = '5678002'
const QQ_ONE = '5A1C0E0D3B9F4C2A8E6D7F1B2C3D4E01'
const LAST_LINK = 'The last sign-in method cannot be unlinked'

const userRow = (userId) => `[data-testid="user-row-${userId}"]`

/** The links a user's row shows, as [{ id, provider }], or null while the row is not listed. */
async function linksOf(app, userId) {
  if ((await app.find(userRow(userId))) === null) return null
  const links = []
  for (const el of await app.findAll(`${userRow(userId)} [data-testid^="user-link-"]`)) {
    const testid = await app.elementAttribute(el, 'data-testid')
    links.push({ id: Number(testid.slice('user-link-'.length)), provider: await app.elementAttribute(el, 'data-provider') })
  }
  return links
}

/** Waits until the user's row shows exactly the links of `providers` (in any order); returns them. */
async function waitForLinks(app, userId, providers) {
  const want = [...providers].sort().join(',')
  return waitFor(`user ${userId}'s row to show the links ${want}`, async () => {
    const links = await linksOf(app, userId)
    return links && links.map((l) => l.provider).sort().join(',') === want ? links : null
  })
}

async function showPage(app, nav, title) {
  await app.click(`[data-testid="${nav}"]`)
  await waitFor(`the ${title} page`, async () => (await app.text('[data-testid="page-title"]')) === title)
}

/** The staff card shows `staff` (as the core has them). */
async function assertStaffCard(app, staff) {
  assert.equal(await app.text('[data-testid="staff-name"]'), staff.name)
  assert.equal(await app.attribute('[data-testid="staff-role"]', 'data-role'), staff.role)
  assert.equal(await app.attribute('[data-testid="staff-provider"]', 'data-provider'), staff.provider)
  assert.notEqual(await app.find('[data-testid="sign-out"]'), null, 'Sign out is offered')
}

/** The sign-in screen shows the provider buttons again: no window waited for, nothing said. */
async function waitForSignInButtons(app, what) {
  await waitFor(what, async () =>
    (await app.find('[data-testid="signin-waiting"]')) === null && (await app.find('[data-testid="signin-weibo"]')) !== null,
  )
  assert.equal(await app.find('[data-testid="error-banner"]'), null, `no error: ${await app.text('[data-testid="error-banner"]')}`)
  assert.equal(await app.find('[data-testid="signin-message"]'), null, 'no sign-in message')
  assert.equal(await app.find('[data-testid="staff-name"]'), null, 'nobody signed in')
}

test('OpenID Connect: sign in through the sign-in window; the first staff member is admin and Accounts lists the OIDC link', async () => {
  const config = oidcConfig() // fails clearly without OPSDECK_TEST_OIDC_ISSUER
  const opened = await openConsole('accounts-oidc', { OPSDECK_LOG: 'warn' }, { config })
  try {
    const { app } = opened
    await app.mustFind('[data-testid="signin-oidc"]')
    const login = 'e2e-oidc-admin'
    const staff = await signIn(app, { provider: 'oidc', user: login })
    assert.equal(staff.provider, 'oidc')
    assert.equal(staff.role, 'admin', 'the first console sign-in is admin')
    assert.equal(staff.name.toLowerCase(), login, `the name comes from the provider's claims: ${staff.name}`)
    await assertStaffCard(app, staff)

    await showPage(app, 'nav-accounts', 'Accounts')
    await app.mustFind('[data-testid="users-table"]')
    const [link] = await waitForLinks(app, staff.user_id, ['oidc'])
    assert.equal(await app.attribute(userRow(staff.user_id), 'data-role'), 'admin')
    assert.equal(await app.enabled(`[data-testid="unlink-${link.id}"]`), false, 'the only link cannot be unlinked')
    await app.screenshot('accounts')
  } finally {
    await opened.close()
  }
})

test('Weibo (built-in fake): sign in, link QQ to the same user through the link menu, then unlink it', async () => {
  const opened = await openConsole('accounts-link', { OPSDECK_LOG: 'warn' })
  try {
    const { app } = opened
    const staff = await signIn(app, { provider: 'weibo', user: WEIBO_ONE })
    assert.equal(staff.provider, 'weibo')
    assert.equal(staff.role, 'admin', 'the first console sign-in is admin')
    await assertStaffCard(app, staff)

    await showPage(app, 'nav-accounts', 'Accounts')
    const [weibo] = await waitForLinks(app, staff.user_id, ['weibo'])

    // Link QQ: the menu opens the QQ fake's page in the sign-in window; Authorize links it.
    await app.click(`[data-testid="link-${staff.user_id}"]`)
    const handle = await app.openSignInWindow(`[data-testid="link-${staff.user_id}-qq"]`)
    assert.match(await app.call('GET', app.session('/title')), /QQ/, 'the QQ page is in the sign-in window')
    await app.switchToMain()
    await waitFor('the Accounts page waiting for the link window', async () =>
      (await app.attribute('[data-testid="link-waiting"]', 'data-provider')) === 'qq',
    )
    await approveSignIn(app, handle, { provider: 'qq', user: QQ_ONE })
    // The outcome is a notice (Notices.vue), with a link to the user.
    await waitFor('the link notice', () =>
      app.find(`[data-testid="notice"][data-kind="success"][data-key="user.link:${staff.user_id}"] [data-testid="notice-link"]`),
    )
    const links = await waitForLinks(app, staff.user_id, ['weibo', 'qq'])
    const qq = links.find((l) => l.provider === 'qq')
    assert.equal(await app.text('[data-testid="staff-name"]'), staff.name, 'still signed in as the same staff member')
    assert.equal(await app.enabled(`[data-testid="unlink-${weibo.id}"]`), true, 'with two links, either can be unlinked')
    await app.screenshot('accounts-linked')

    // Unlink QQ (confirmed): Weibo is left, and being the last link it cannot be unlinked.
    await app.click(`[data-testid="unlink-${qq.id}"]`)
    await app.mustFind('[data-testid="confirm-dialog"]')
    await app.click('[data-testid="confirm-dialog"] [data-testid="confirm-ok"]')
    await waitFor('the confirm dialog to close', async () => (await app.find('[data-testid="confirm-dialog"]')) === null)
    const [left] = await waitForLinks(app, staff.user_id, ['weibo'])
    assert.equal(left.id, weibo.id)
    const lastUnlink = `[data-testid="unlink-${weibo.id}"]`
    await waitFor('the last link’s Unlink disabled', async () => (await app.enabled(lastUnlink)) === false)
    assert.equal(await app.attribute(lastUnlink, 'title'), LAST_LINK)
    const refusal = '[data-testid="notice"][data-kind="error"]'
    assert.equal(await app.find(refusal), null, `no error: ${await app.text(refusal)}`)
  } finally {
    await opened.close()
  }
})

test('closing the sign-in window, or Cancel, returns to the sign-in buttons; then signing in works', async () => {
  const opened = await openConsole('accounts-cancel', { OPSDECK_LOG: 'warn' })
  try {
    const { app } = opened
    await app.mustFind('[data-testid="signin-weibo"]')

    // The user closes the sign-in window (the window manager's close button).
    const first = await app.openSignInWindow('[data-testid="signin-weibo"]')
    await app.mustFind('#authorize') // the fake Weibo's page is up
    await app.switchToMain()
    await waitFor('the sign-in screen waiting for the Weibo window', async () =>
      (await app.attribute('[data-testid="signin-waiting"]', 'data-provider')) === 'weibo',
    )
    assert.equal(await closeWindowAsUser('Sign in with Weibo'), 1, 'one sign-in window to close')
    await app.waitForWindowClosed(first)
    await waitForSignInButtons(app, 'the sign-in buttons after closing the sign-in window')

    // Cancel on the sign-in screen closes the window.
    const second = await app.openSignInWindow('[data-testid="signin-qq"]')
    await app.mustFind('#authorize')
    await app.switchToMain()
    await app.click('[data-testid="signin-cancel"]')
    await app.waitForWindowClosed(second)
    await waitForSignInButtons(app, 'the sign-in buttons after Cancel')

    // Nothing was left half done: a normal sign-in works, and is still the first (admin).
    const staff = await signIn(app, { provider: 'weibo' })
    assert.equal(staff.role, 'admin')
    await assertStaffCard(app, staff)
  } finally {
    await opened.close()
  }
})

test('closing the sign-in window through WebDriver (the page’s own close) cancels too', async () => {
    const opened = await openConsole('accounts-wd-close', { OPSDECK_LOG: 'warn' })
    try {
      const { app } = opened
      const handle = await app.openSignInWindow('[data-testid="signin-weibo"]')
      await app.mustFind('#authorize')
      await app.call('DELETE', app.session('/window')) // closes the current window: the sign-in window
      await app.switchToMain()
      await app.waitForWindowClosed(handle)
      await waitFor(
        'the sign-in buttons after WebDriver closed the sign-in window',
        async () => (await app.find('[data-testid="signin-waiting"]')) === null,
        { timeoutMs: 3_000 },
      )
    } finally {
      await opened.close()
    }
  },
)

test('a viewer cannot cancel an order: the button is disabled and the core refuses the command', async () => {
  const opened = await openConsole('accounts-viewer', { OPSDECK_LOG: 'warn' }, { config: { staff_default_role: 'viewer' } })
  try {
    const { app } = opened
    const sku = `E2E-VIEWER-${Date.now()}-${process.pid}`
    const goodsRow = `[data-testid="goods-row"][data-sku="${sku}"]`

    // The first sign-in (admin) adds goods and places an order.
    const admin = await signIn(app, { provider: 'weibo', user: WEIBO_ONE })
    assert.equal(admin.role, 'admin')
    await showPage(app, 'nav-orders', 'Orders')
    await app.click('[data-testid="orders-tools-toggle"]')
    await app.type('[data-testid="new-goods-sku"]', sku)
    await app.type('[data-testid="new-goods-name"]', 'E2E viewer mug')
    await app.type('[data-testid="new-goods-price"]', '9.90')
    await app.type('[data-testid="new-goods-stock"]', '5')
    await app.click('[data-testid="new-goods-submit"]')
    const goodsId = await waitFor('the new goods row', () => app.attribute(goodsRow, 'data-goods-id'))
    await app.select('[data-testid="new-order-goods"]', goodsId)
    await app.type('[data-testid="new-order-quantity"]', 1)
    await app.type('[data-testid="new-order-user"]', '10086')
    await app.click('[data-testid="new-order-submit"]')
    const no = await waitFor('the order to be placed', () => app.attribute('[data-testid="new-order-done"]', 'data-order-no'))
    const orderRow = `[data-testid="order-row"][data-order-no="${no}"]`
    await app.mustFind(orderRow)
    assert.equal(await app.enabled(`${orderRow} [data-testid="order-cancel"]`), true, 'the admin may cancel it')

    // A newcomer (Weibo's other user) gets staff_default_role: viewer.
    await signOut(app)
    const viewer = await signIn(app, { provider: 'weibo', user: WEIBO_TWO })
    assert.notEqual(viewer.user_id, admin.user_id, 'another user')
    assert.equal(viewer.role, 'viewer')
    await assertStaffCard(app, viewer)

    await showPage(app, 'nav-orders', 'Orders')
    await app.mustFind(orderRow)
    const cancel = `${orderRow} [data-testid="order-cancel"]`
    await waitFor('the cancel button disabled for the viewer', async () => (await app.enabled(cancel)) === false)
    assert.equal(await app.attribute(cancel, 'title'), 'Your role (viewer) cannot cancel orders')

    // The core refuses too, whatever the UI shows.
    const refused = await app.invoke('order_cancel', { orderNo: no, reason: 'e2e: a viewer tries' })
    assert.equal(refused.ok, false, `order_cancel must be refused: ${JSON.stringify(refused)}`)
    assert.equal(refused.error?.code, 'forbidden', JSON.stringify(refused.error))
    assert.match(refused.error?.message ?? '', /viewer cannot cancel orders/)

    // The order is still pending.
    assert.equal(await app.attribute(orderRow, 'data-status'), 'pending')
    const timeline = await app.invoke('order_timeline', { orderNo: no })
    assert.equal(timeline.ok, true, JSON.stringify(timeline))
    const kinds = timeline.value.map((e) => e.event)
    assert.deepEqual(kinds, ['placed'], `no cancel in the timeline: ${JSON.stringify(kinds)}`)
    await app.screenshot('accounts-viewer-orders')
  } finally {
    await opened.close()
  }
})
