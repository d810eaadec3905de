// The Orders page in the real desktop window, in sandbox mode (no Alipay keys: the app starts its
// built-in fake Alipay, which knows none of these orders, so each is unpaid). Orders expire 5 s
// after they are placed, and the default `order-expiry-sweep` job (every 10 s) cancels them.
// Flow A: staff add goods, place an order of 3 (stock 7 available, 3 locked), and the sweep
// cancels it (back to 10 available). Flow B: an order checked at Alipay (still unpaid) and
// cancelled by hand with a reason, named after the signed-in staff member.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { actorName, openConsole, signIn, waitFor } from './harness.mjs'

let opened
let app

/** Who the console names for its actions: the signed-in staff member (`Actor::staff` in the core). */
let ACTOR
const SKU = `E2E-${Date.now()}-${process.pid}`

before(async () => {
  opened = await openConsole('orders', { OPSDECK_LOG: 'warn', OPSDECK_ORDER_EXPIRY_SECONDS: '5' })
  app = opened.app
  // Staff actions need a signed-in operator or admin (the first sign-in is admin).
  ACTOR = actorName(await signIn(app))
  await app.click('[data-testid="nav-orders"]')
  await waitFor('the Orders page', async () => (await app.text('[data-testid="page-title"]')) === 'Orders')
})

after(async () => {
  await opened?.close()
})

const orderRow = (no) => `[data-testid="order-row"][data-order-no="${no}"]`
const cancelledRow = (no) => `[data-testid="cancelled-row"][data-order-no="${no}"]`
const goodsRow = `[data-testid="goods-row"][data-sku="${SKU}"]`

/** The goods row's stock as shown, e.g. { available: 7, locked: 3, sold: 0 }, or null. */
async function stock() {
  const available = await app.text(`${goodsRow} [data-testid="goods-available"]`)
  if (available === null) return null
  return {
    available: Number(available),
    locked: Number(await app.text(`${goodsRow} [data-testid="goods-locked"]`)),
    sold: Number(await app.text(`${goodsRow} [data-testid="goods-sold"]`)),
  }
}

async function waitForStock(available, locked) {
  return waitFor(`the goods row to show ${available} available / ${locked} locked`, async () => {
    const s = await stock()
    return s && s.available === available && s.locked === locked ? s : null
  })
}

/** Places an order of `quantity` of the test good; resolves to its order number. */
async function placeOrder(quantity) {
  const previous = await app.attribute('[data-testid="new-order-done"]', 'data-order-no')
  const goodsId = await app.attribute(goodsRow, 'data-goods-id')
  await app.select('[data-testid="new-order-goods"]', goodsId)
  await app.type('[data-testid="new-order-quantity"]', quantity)
  await app.type('[data-testid="new-order-user"]', '10086')
  await app.click('[data-testid="new-order-submit"]')
  return waitFor('the order to be placed', async () => {
    const no = await app.attribute('[data-testid="new-order-done"]', 'data-order-no')
    return no && no !== previous ? no : null
  })
}

async function showTab(tab) {
  await app.click(`[data-testid="orders-tab-${tab}"]`)
  await app.mustFind(tab === 'cancelled' ? '[data-testid="cancelled-list"]' : '[data-testid="orders-list"]')
}

test('the page shows the pending figures in sandbox mode', async () => {
  await waitFor('the sandbox badge', () => app.find('[data-testid="orders-sandbox"]'))
  assert.match((await app.text('[data-testid="orders-pending-count"]')) ?? '', /^\d+$/)
  assert.match((await app.text('[data-testid="orders-expiring-soon"]')) ?? '', /^\d+$/)
})

test('flow A: an unpaid order locks its stock, and the sweep cancels it and puts the stock back', async () => {
  await app.click('[data-testid="orders-tools-toggle"]')
  await app.type('[data-testid="new-goods-sku"]', SKU)
  await app.type('[data-testid="new-goods-name"]', 'E2E tea mug')
  await app.type('[data-testid="new-goods-price"]', '12.50')
  await app.type('[data-testid="new-goods-stock"]', '10')
  await app.click('[data-testid="new-goods-submit"]')
  await waitForStock(10, 0)

  const no = await placeOrder(3)
  await waitForStock(7, 3)
  const countdown = await waitFor(`order ${no} counting down in the pending list`, () =>
    app.text(`${orderRow(no)} [data-testid="order-countdown"]`),
  )
  assert.match(countdown, /^00:0[0-5]$|expired/, `countdown: ${countdown}`)
  assert.equal(await app.text(`${orderRow(no)} [data-testid="order-amount"]`), '¥37.50')
  await app.screenshot('orders-pending')

  // Expiry 5 s, the sweep every 10 s: gone from the pending list well within 40 s.
  await waitFor(`order ${no} to leave the pending list`, async () => (await app.find(orderRow(no))) === null, {
    timeoutMs: 40_000,
    intervalMs: 250,
  })
  await waitForStock(10, 0)

  await showTab('cancelled')
  await waitFor(`order ${no} in the Cancelled tab`, () => app.find(cancelledRow(no)))
  assert.equal(await app.text(`${cancelledRow(no)} [data-testid="cancelled-by"]`), 'sweep')
  assert.match((await app.text(`${cancelledRow(no)} [data-testid="cancelled-reason"]`)) ?? '', /Unpaid 5 s after it was placed/)

  // Its timeline: placed by the shop, then the sweep's steps under one job run.
  await app.click(`${cancelledRow(no)} [data-testid="order-no"]`)
  await waitFor('the timeline panel', async () => (await app.attribute('[data-testid="order-timeline"]', 'data-order-no')) === no)
  const events = await waitFor('the timeline events', async () => {
    const ids = await app.findAll('[data-testid="timeline-event"]')
    const kinds = []
    for (const id of ids) kinds.push(await app.elementAttribute(id, 'data-event'))
    return kinds.includes('stock_restored') ? kinds : null
  })
  assert.deepEqual(events, ['placed', 'queried', 'closed', 'cancelled', 'stock_restored'])
  const runKey = await app.text('[data-testid="timeline-event"][data-event="cancelled"] [data-testid="timeline-run-key"]')
  assert.match(runKey ?? '', /^[sm]:\d+:\d+/, `run key: ${runKey}`)
  await app.screenshot('orders-timeline')
  await app.click('[data-testid="order-timeline-close"]')
  await waitFor('the timeline to close', async () => (await app.find('[data-testid="order-timeline"]')) === null)
  await app.screenshot('orders-cancelled-by-sweep')
})

test('flow B: staff check an order at Alipay, then cancel it now with a reason', async () => {
  await showTab('pending')
  const no = await placeOrder(2)
  await app.mustFind(orderRow(no))

  await app.click(`${orderRow(no)} [data-testid="order-check-payment"]`)
  // The answer is a notice (Notices.vue), keyed by the action and the order.
  const result = await waitFor('the check result', () => app.text(`[data-testid="notice"][data-key="order.check:${no}"]`))
  assert.match(result, /still unpaid/i)

  const reason = `e2e: customer asked (${process.pid})`
  await app.click(`${orderRow(no)} [data-testid="order-cancel"]`)
  await app.type('[data-testid="order-cancel-reason"]', reason)
  await app.click('[data-testid="order-cancel-confirm"]')
  await waitFor('the cancel dialog to close', async () => (await app.find('[data-testid="order-cancel-dialog"]')) === null)
  const refusal = '[data-testid="notice"][data-kind="error"]'
  assert.equal(await app.find(refusal), null, `no error: ${await app.text(refusal)}`)
  // The cancel is said with a link to the cancelled order.
  await waitFor('the cancel notice', () => app.find(`[data-testid="notice"][data-key="order.cancel:${no}"] [data-testid="notice-link"]`))
  await waitFor(`order ${no} to leave the pending list`, async () => (await app.find(orderRow(no))) === null)

  await showTab('cancelled')
  await waitFor(`order ${no} in the Cancelled tab`, () => app.find(cancelledRow(no)))
  assert.equal(await app.text(`${cancelledRow(no)} [data-testid="cancelled-reason"]`), reason)
  assert.equal(await app.text(`${cancelledRow(no)} [data-testid="cancelled-by"]`), ACTOR)
  await waitForStock(10, 0)
  await app.screenshot('orders-cancelled-by-staff')
})
