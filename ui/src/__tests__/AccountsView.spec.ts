import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { h } from 'vue'
import type { Pinia } from 'pinia'
import { createMemoryHistory, createRouter, RouterView, type Router } from 'vue-router'
import { useNoticesStore } from '../stores/notices'
import AccountsView from '../views/AccountsView.vue'
import { backendPlugins, FakeBackend, linkRequest, linkView, staffMember, userView } from './fakeBackend'

let backend: FakeBackend
let wrapper: VueWrapper | undefined
let pinia: Pinia

async function mountView() {
  const mounted = backendPlugins(backend)
  pinia = mounted.pinia
  wrapper = mount(AccountsView, { global: { plugins: mounted.plugins }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

/** The Accounts page under a router, opened at `path` (e.g. a notice's link). */
async function mountRouted(path: string): Promise<{ w: VueWrapper; router: Router }> {
  const mounted = backendPlugins(backend)
  pinia = mounted.pinia
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/accounts', name: 'accounts', component: AccountsView }] })
  await router.push(path)
  await router.isReady()
  wrapper = mount({ render: () => h(RouterView) }, { global: { plugins: [...mounted.plugins, router] }, attachTo: document.body })
  await flushPromises()
  return { w: wrapper, router }
}

/** The notices the page raised (stores/notices.ts; Notices.vue shows them, see Notices.spec). */
const notices = () => useNoticesStore(pinia).notices
const lastNotice = () => notices()[notices().length - 1]

const testid = (w: VueWrapper, id: string) => w.get(`[data-testid="${id}"]`)
const has = (w: VueWrapper, id: string) => w.find(`[data-testid="${id}"]`).exists()
const rowIds = (w: VueWrapper) =>
  w.findAll('[data-testid^="user-row-"]').map((r) => Number(r.attributes('data-testid')?.replace('user-row-', '')))

beforeEach(() => {
  backend = new FakeBackend()
  backend.users = [
    userView({
      id: 1,
      username: 'alice',
      nickname: 'Alice',
      mobile_masked: '138****0001',
      role: 'admin',
      links: [
        linkView({ id: 11, provider: 'dingtalk', uid_masked: 'dt****01', nickname: null }),
        linkView({ id: 12, provider: 'weibo', uid_masked: '18****42', nickname: 'alice_wb', last_sign_in_at: null }),
      ],
    }),
    userView({
      id: 2,
      username: 'bob',
      nickname: null,
      mobile_masked: '139****0002',
      role: null,
      last_sign_in_at: null,
      links: [linkView({ id: 21, provider: 'wechat', uid_masked: 'wx****9f', nickname: 'Bob' })],
    }),
  ]
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
  vi.useRealTimers()
})

describe('AccountsView', () => {
  it('lists the users with their mobile, role, dates and linked logins', async () => {
    const w = await mountView()
    expect(testid(w, 'page-title').text()).toBe('Accounts')
    expect(backend.callsTo('users_list')).toEqual([{ query: { search: null, offset: 0, limit: 50 } }])
    expect(rowIds(w)).toEqual([1, 2])

    const alice = testid(w, 'user-row-1')
    expect(alice.get('[data-testid="user-username"]').text()).toBe('alice')
    expect(alice.text()).toContain('Alice')
    expect(alice.get('[data-testid="user-mobile"]').text()).toBe('138****0001')
    expect(alice.get('[data-testid="user-last-sign-in"]').text()).toBe('Jan 10, 2026, 02:00:00') // Europe/Berlin
    expect(alice.get('[data-testid="user-link-12"]').attributes('data-provider')).toBe('weibo')
    expect(alice.get('[data-testid="user-link-12"]').text()).toContain('18****42')
    const details = alice.get('[data-testid="user-link-12"] [title]').attributes('title')
    expect(details).toContain('Weibo · uid 18****42 (alice_wb)')
    expect(details).toContain('Linked Jan 5, 2026, 09:00:00')
    expect(details).toContain('Last sign-in never')

    // An admin sees the role as a select; bob has none.
    expect((testid(w, 'role-1').element as HTMLSelectElement).value).toBe('admin')
    expect((testid(w, 'role-2').element as HTMLSelectElement).value).toBe('')
    expect(testid(w, 'users-page-range').text()).toBe('1–2 of 2')
    expect(has(w, 'link-requests')).toBe(false)
  })

  it('searches by mobile or username after a pause', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const w = await mountView()
    await testid(w, 'users-search').setValue('bo')
    await testid(w, 'users-search').setValue('bob')
    expect(backend.callsTo('users_list')).toHaveLength(1)
    vi.advanceTimersByTime(300)
    await flushPromises()
    expect(backend.callsTo('users_list').slice(-1)[0]).toEqual({ query: { search: 'bob', offset: 0, limit: 50 } })
    expect(rowIds(w)).toEqual([2])

    await testid(w, 'users-search').setValue('0001')
    await testid(w, 'users-search').trigger('keydown', { key: 'Enter' })
    await flushPromises()
    expect(rowIds(w)).toEqual([1])

    await testid(w, 'users-search').setValue('nobody')
    await testid(w, 'users-search').trigger('keydown', { key: 'Enter' })
    await flushPromises()
    expect(testid(w, 'users-empty').text()).toBe('No users match this search.')
  })

  it('unlinks a login after a confirmation', async () => {
    const w = await mountView()
    await testid(w, 'unlink-12').trigger('click')
    const dialog = testid(w, 'confirm-dialog')
    expect(dialog.text()).toContain('Unlink Weibo from alice?')
    expect(dialog.text()).toContain('18****42 (alice_wb)')

    // Cancelling changes nothing.
    await testid(w, 'confirm-cancel').trigger('click')
    expect(has(w, 'confirm-dialog')).toBe(false)
    expect(backend.callsTo('unlink')).toEqual([])

    await testid(w, 'unlink-12').trigger('click')
    await testid(w, 'confirm-ok').trigger('click')
    await flushPromises()
    expect(backend.callsTo('unlink')).toEqual([{ linkId: 12 }])
    expect(has(w, 'confirm-dialog')).toBe(false)
    expect(has(w, 'user-link-12')).toBe(false)
    expect(notices()).toMatchObject([{ kind: 'success', text: 'Unlinked Weibo (18****42) from alice.' }])
    // Now dingtalk is alice's last login.
    expect(testid(w, 'unlink-11').attributes('disabled')).toBeDefined()
  })

  it('does not let the last sign-in method be unlinked', async () => {
    const w = await mountView()
    const last = testid(w, 'unlink-21')
    expect(last.attributes('disabled')).toBeDefined()
    expect(last.attributes('title')).toBe('The last sign-in method cannot be unlinked')
    expect(testid(w, 'unlink-12').attributes('disabled')).toBeUndefined()
  })

  it('shows the core’s refusal of an unlink', async () => {
    backend.failures.unlink = { code: 'forbidden', message: 'a viewer cannot unlink sign-ins', params: { role: 'viewer', action: 'unlink_sign_ins' } }
    const w = await mountView()
    await testid(w, 'unlink-12').trigger('click')
    await testid(w, 'confirm-ok').trigger('click')
    await flushPromises()
    expect(notices()).toMatchObject([
      { kind: 'error', title: 'Could not unlink Weibo from alice:', text: 'Your role (viewer) cannot unlink sign-ins.' },
    ])
    expect(has(w, 'user-link-12')).toBe(true)
  })

  it('lets an admin change a role, and take console access away', async () => {
    const w = await mountView()
    await testid(w, 'role-2').setValue('operator')
    await flushPromises()
    expect(backend.callsTo('staff_set_role')).toEqual([{ userId: 2, role: 'operator' }])
    expect(testid(w, 'user-row-2').attributes('data-role')).toBe('operator')
    expect(lastNotice()).toMatchObject({ kind: 'success', text: 'bob is now operator.' })

    await testid(w, 'role-2').setValue('')
    await flushPromises()
    expect(backend.callsTo('staff_set_role').slice(-1)[0]).toEqual({ userId: 2, role: null })
    expect(testid(w, 'user-row-2').attributes('data-role')).toBe('none')
  })

  it('puts the select back when the core refuses a role change', async () => {
    backend.failures.staff_set_role = { code: 'last_admin', message: 'this is the last admin: make someone else admin first' }
    const w = await mountView()
    await testid(w, 'role-1').setValue('viewer')
    await flushPromises()
    expect(lastNotice()).toMatchObject({ kind: 'error', text: 'This is the last admin: make someone else admin first.' })
    expect((testid(w, 'role-1').element as HTMLSelectElement).value).toBe('admin')
  })

  it('shows roles without a select to operators, who can still link and unlink', async () => {
    backend.session = staffMember({ role: 'operator' })
    const w = await mountView()
    expect(has(w, 'role-1')).toBe(false)
    expect(testid(w, 'user-row-1').get('[data-testid="user-role"]').text()).toBe('admin')
    expect(testid(w, 'user-row-2').get('[data-testid="user-role"]').text()).toBe('—')
    expect(testid(w, 'unlink-12').attributes('disabled')).toBeUndefined()
    expect(testid(w, 'link-2').attributes('disabled')).toBeUndefined()
  })

  it('shows viewers everything with the actions disabled', async () => {
    backend.session = staffMember({ role: 'viewer' })
    backend.linkRequests = [linkRequest({ id: 5 })]
    const w = await mountView()
    expect(rowIds(w)).toEqual([1, 2])
    expect(has(w, 'role-1')).toBe(false)
    expect(testid(w, 'unlink-12').attributes('disabled')).toBeDefined()
    expect(testid(w, 'unlink-12').attributes('title')).toBe('Your role (viewer) cannot unlink sign-in methods')
    expect(testid(w, 'link-1').attributes('disabled')).toBeDefined()
    expect(testid(w, 'link-1').attributes('title')).toBe('Your role (viewer) cannot link sign-in methods')
    expect(testid(w, 'link-request-accept-5').attributes('disabled')).toBeDefined()
    expect(testid(w, 'link-request-reject-5').attributes('disabled')).toBeDefined()
  })

  it('links another provider through a sign-in window', async () => {
    const w = await mountView()
    await testid(w, 'link-2').trigger('click')
    // wechat is bob's already.
    expect(testid(w, 'link-2-wechat').attributes('disabled')).toBeDefined()
    await testid(w, 'link-2-qq').trigger('click')
    await flushPromises()
    expect(backend.callsTo('link_start')).toEqual([{ userId: 2, provider: 'qq' }])
    expect(testid(w, 'link-waiting').text()).toContain('Waiting for the sign-in window to link QQ to bob…')
    expect(testid(w, 'link-1').attributes('disabled')).toBeDefined()

    const bob = backend.users[1]!
    bob.links.push(linkView({ id: 22, provider: 'qq', uid_masked: 'qq****77' }))
    backend.pushSignIn({ status: 'linked', user: JSON.parse(JSON.stringify(bob)) })
    await flushPromises()
    expect(has(w, 'link-waiting')).toBe(false)
    expect(notices()).toMatchObject([
      {
        kind: 'success',
        text: 'Linked QQ to bob.',
        link: { to: { name: 'accounts', query: { user: 'bob' } }, label: 'View user' },
      },
    ])
    expect(testid(w, 'user-row-2').find('[data-testid="user-link-22"]').exists()).toBe(true)
    // With two logins, either can go now.
    expect(testid(w, 'unlink-21').attributes('disabled')).toBeUndefined()
  })

  it('closes the link window quietly when cancelled', async () => {
    const w = await mountView()
    await testid(w, 'link-1').trigger('click')
    await testid(w, 'link-1-qq').trigger('click')
    await flushPromises()
    await testid(w, 'link-cancel').trigger('click')
    await flushPromises()
    expect(backend.callsTo('sign_in_cancel')).toHaveLength(1)
    expect(has(w, 'link-waiting')).toBe(false)
    expect(notices()).toEqual([])
  })

  it('shows an error a link window ended with', async () => {
    const w = await mountView()
    await testid(w, 'link-1').trigger('click')
    await testid(w, 'link-1-qq').trigger('click')
    await flushPromises()
    backend.pushSignIn({ status: 'error', error: { code: 'identity_linked_elsewhere', message: 'this QQ account is already linked to user 2; unlink it there first', params: { provider: 'qq', user_id: '2' } } })
    await flushPromises()
    expect(notices()).toMatchObject([
      {
        kind: 'error',
        title: 'Could not link QQ to alice:',
        text: 'This QQ account is already linked to user #2: unlink it there first.',
        code: 'identity_linked_elsewhere',
      },
    ])
  })

  it('opened by a notice’s "View user" link, searches the users for them', async () => {
    const { w, router } = await mountRouted('/accounts?user=bob')
    expect(backend.callsTo('users_list').slice(-1)[0]).toEqual({ query: { search: 'bob', offset: 0, limit: 50 } })
    expect((testid(w, 'users-search').element as HTMLInputElement).value).toBe('bob')
    expect(router.currentRoute.value.fullPath).toBe('/accounts')
  })

  it('lists pending link requests and accepts one', async () => {
    backend.linkRequests = [linkRequest({ id: 5, user_id: 2, username: 'bob', provider: 'qq', uid_masked: 'B7****1C' })]
    const w = await mountView()
    const requests = testid(w, 'link-requests')
    expect(requests.get('[data-testid="link-request-5"]').text()).toContain('bob')
    expect(requests.get('[data-testid="link-request-5"]').text()).toContain('B7****1C')
    expect(requests.get('[data-testid="link-request-5"]').text()).toContain('139****0002')
    // What the provider verified, for staff to weigh before accepting.
    expect(testid(w, 'link-request-verified-5').text()).toBe('Verified by QQ: mobile')

    await testid(w, 'link-request-accept-5').trigger('click')
    await flushPromises()
    expect(backend.callsTo('link_request_resolve')).toEqual([{ id: 5, accept: true }])
    expect(has(w, 'link-requests')).toBe(false)
    expect(notices()).toMatchObject([
      {
        kind: 'success',
        text: 'Linked QQ (B7****1C) to bob.',
        link: { to: { name: 'accounts', query: { user: 'bob' } }, label: 'View user' },
      },
    ])
    expect(testid(w, 'user-row-2').text()).toContain('B7****1C')
  })

  it('rejects a link request', async () => {
    backend.linkRequests = [linkRequest({ id: 5 }), linkRequest({ id: 6, username: 'carol', user_id: 1 })]
    const w = await mountView()
    await testid(w, 'link-request-reject-5').trigger('click')
    await flushPromises()
    expect(backend.callsTo('link_request_resolve')).toEqual([{ id: 5, accept: false }])
    expect(has(w, 'link-request-5')).toBe(false)
    expect(has(w, 'link-request-6')).toBe(true)
    expect(notices()).toMatchObject([{ kind: 'success', text: expect.stringMatching(/^Rejected the QQ login/) }])
  })

  it('reloads when the core says accounts changed', async () => {
    const w = await mountView()
    backend.users.push(userView({ id: 3, username: 'carol', links: [linkView({ id: 31 })] }))
    backend.linkRequests = [linkRequest({ id: 8 })]
    backend.push({ kind: 'accounts_changed' })
    await flushPromises()
    expect(rowIds(w)).toEqual([1, 2, 3])
    expect(has(w, 'link-request-8')).toBe(true)
  })

  it('pages through the users', async () => {
    backend.users = Array.from({ length: 60 }, (_, i) => userView({ id: i + 1, username: `user${i + 1}` }))
    const w = await mountView()
    expect(testid(w, 'users-page-range').text()).toBe('1–50 of 60')
    await testid(w, 'users-page-next').trigger('click')
    await flushPromises()
    expect(backend.callsTo('users_list').slice(-1)[0]).toEqual({ query: { search: null, offset: 50, limit: 50 } })
    expect(testid(w, 'users-page-range').text()).toBe('51–60 of 60')
    expect(rowIds(w)[0]).toBe(51)
  })

  it('stops listening when it goes away', async () => {
    const w = await mountView()
    // The users' and, for an admin, the staff sessions' (each also follows the link, for resyncs).
    expect(backend.listenerCount).toBe(2)
    expect(backend.connectionListenerCount).toBe(2)
    expect(backend.signInListenerCount).toBe(1)
    w.unmount()
    wrapper = undefined
    expect(backend.listenerCount).toBe(0)
    expect(backend.connectionListenerCount).toBe(0)
    expect(backend.signInListenerCount).toBe(0)
  })
})
