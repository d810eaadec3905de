import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { useNoticesStore } from '../stores/notices'
import { useSessionStore } from '../stores/session'
import AccountsView from '../views/AccountsView.vue'
import { backendPlugins, FakeBackend, sessionView, staffMember } from './fakeBackend'

// The Accounts page's staff sessions: admins see every live session, this console's marked, and
// revoke one after a confirmation; revoking this console's own signs it out.
let backend: FakeBackend
let wrapper: VueWrapper | undefined

async function mountView() {
  const { plugins } = backendPlugins(backend)
  wrapper = mount(AccountsView, { global: { plugins }, attachTo: document.body })
  await flushPromises()
  return { w: wrapper, session: useSessionStore() }
}

const row = (w: VueWrapper, id: number) => w.get(`[data-testid="session-row"][data-session-id="${id}"]`)
const rowIds = (w: VueWrapper) => w.findAll('[data-testid="session-row"]').map((r) => Number(r.attributes('data-session-id')))
const has = (w: VueWrapper, id: string) => w.find(`[data-testid="${id}"]`).exists()

async function revoke(w: VueWrapper, id: number, confirm = true) {
  await row(w, id).get('[data-testid="session-revoke"]').trigger('click')
  await flushPromises()
  const dialog = w.get('[data-testid="confirm-dialog"]')
  const text = dialog.text()
  await dialog.get(`[data-testid="${confirm ? 'confirm-ok' : 'confirm-cancel'}"]`).trigger('click')
  await flushPromises()
  return text
}

beforeEach(() => {
  backend = new FakeBackend()
  backend.session = staffMember({ role: 'admin' })
  backend.staffSessions = [
    sessionView({ id: 1, user_id: 1, name: 'Alice Admin', provider: 'dingtalk', current: true }),
    sessionView({ id: 2, user_id: 2, name: 'Bob Operator', role: 'operator', provider: 'qq', created_at: '2026-01-10T03:00:00Z' }),
  ]
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
})

describe('staff sessions', () => {
  it('lists every live session to an admin, with who, provider and times, this console’s marked', async () => {
    const { w } = await mountView()
    expect(backend.callsTo('sessions_list')).toHaveLength(1)
    expect(rowIds(w)).toEqual([1, 2])

    const own = row(w, 1)
    expect(own.attributes('data-current')).toBe('true')
    expect(own.get('[data-testid="session-current"]').text()).toBe('This console')
    expect(own.get('[data-testid="session-name"]').text()).toBe('Alice Admin')
    expect(own.get('[data-testid="session-provider"]').attributes('data-provider')).toBe('dingtalk')
    expect(own.get('[data-testid="session-role"]').text()).toBe('admin')
    expect(row(w, 2).get('[data-testid="session-role"]').attributes('data-role')).toBe('operator')
    expect(own.get('[data-testid="session-last-seen"] time').attributes('datetime')).toBe('2026-01-10T02:30:00Z')
    expect(own.get('[data-testid="session-expires"] time').attributes('datetime')).toBe('2026-01-10T10:30:00Z')

    const other = row(w, 2)
    expect(other.attributes('data-current')).toBe('false')
    expect(other.attributes('data-user-id')).toBe('2')
    expect(other.find('[data-testid="session-current"]').exists()).toBe(false)
    expect(other.text()).toContain('Bob Operator')
    expect(other.text()).toContain('#2')
  })

  it('keeps a session to one line in the one table: the member’s hover holds every time, Revoke in the row’s actions', async () => {
    const { w } = await mountView()
    expect(w.get('[data-testid="sessions-table"]').classes()).toContain('dt') // DataTable: fixed columns, one-line cells
    const other = row(w, 2)
    const hover = other.get('.who').attributes('title')?.split('\n') ?? []
    expect(hover[0]).toBe('Bob Operator #2')
    expect(hover.slice(1).map((l) => l.split(':')[0])).toEqual(['Signed in with', 'Signed in', 'Last used', 'Expires'])
    expect(other.get('.dt-actions [data-testid="session-revoke"]').text()).toBe('Revoke')
  })

  it('revokes another member’s session after a confirmation, and lists the sessions again', async () => {
    const { w, session } = await mountView()
    const asked = await revoke(w, 2)
    expect(asked).toContain('Revoke the session of Bob Operator?')
    expect(backend.callsTo('session_revoke')).toEqual([{ id: 2 }])
    expect(backend.callsTo('sessions_list')).toHaveLength(2)
    expect(rowIds(w)).toEqual([1])
    expect(useNoticesStore().notices).toMatchObject([{ kind: 'success', text: 'The session of Bob Operator was revoked.' }])
    expect(has(w, 'confirm-dialog')).toBe(false)
    // Still signed in.
    expect(session.staff?.name).toBe('Alice Admin')
    expect(backend.callsTo('sign_out')).toHaveLength(0)
  })

  it('does nothing when the confirmation is cancelled', async () => {
    const { w } = await mountView()
    await revoke(w, 2, false)
    expect(backend.callsTo('session_revoke')).toHaveLength(0)
    expect(rowIds(w)).toEqual([1, 2])
  })

  it('warns before revoking this console’s own session, then signs out', async () => {
    const { w, session } = await mountView()
    const asked = await revoke(w, 1)
    expect(asked).toContain('Revoke your own session?')
    expect(asked).toContain('you will be signed out')
    expect(backend.callsTo('session_revoke')).toEqual([{ id: 1 }])
    expect(backend.callsTo('sign_out')).toHaveLength(1)
    expect(session.staff).toBeNull()
  })

  it('shows why a revoke failed', async () => {
    backend.failures.session_revoke = { code: 'database_unavailable', message: 'database is locked' }
    const { w } = await mountView()
    await revoke(w, 2)
    expect(useNoticesStore().notices).toMatchObject([
      { kind: 'error', title: 'Could not revoke the session of Bob Operator:', text: 'The database is not reachable.' },
    ])
    expect(rowIds(w)).toEqual([1, 2])
  })

  it('is not shown to an operator, nor asked for', async () => {
    backend.session = staffMember({ role: 'operator' })
    const { w } = await mountView()
    expect(has(w, 'staff-sessions')).toBe(false)
    expect(backend.callsTo('sessions_list')).toHaveLength(0)
  })

  it('shows the core’s refusal in the catalogue’s words when the role changed meanwhile', async () => {
    const { w, session } = await mountView()
    await session.start() // as the app does: a refusal makes it ask who is signed in
    await flushPromises()
    expect(rowIds(w)).toEqual([1, 2])
    // Demoted on the server; this console does not know yet.
    backend.session = staffMember({ role: 'operator' })
    await w.get('[data-testid="sessions-refresh"]').trigger('click')
    await flushPromises()
    const banner = w.get('[data-testid="staff-sessions"] [data-testid="error-banner"]')
    expect(banner.get('[data-testid="error-message"]').text()).toBe('Your role (operator) cannot list the staff sessions.')
    // The refusal made the console ask who is signed in: the list and its buttons are gone.
    expect(session.role).toBe('operator')
    expect(rowIds(w)).toEqual([])
    expect(has(w, 'sessions-refresh')).toBe(false)
  })
})
