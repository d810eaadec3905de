import { beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import AuditView from '../views/AuditView.vue'
import type { AuditEntry } from '../backend'
import { backendPlugins, FakeBackend } from './fakeBackend'

let backend: FakeBackend

function entry(id: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    id,
    who: 'alice',
    action: 'job.pause',
    target: `job:${id}`,
    detail: null,
    at: `2025-01-15T10:${String(id % 60).padStart(2, '0')}:00Z`,
    ...overrides,
  }
}

async function mountView() {
  const { plugins } = backendPlugins(backend)
  const wrapper = mount(AuditView, { global: { plugins } })
  await flushPromises()
  return wrapper
}

const rowIds = (w: Awaited<ReturnType<typeof mountView>>) =>
  w.findAll('[data-testid="audit-row"]').map((r) => Number(r.attributes('data-id')))

beforeEach(() => {
  backend = new FakeBackend()
})

describe('AuditView', () => {
  it('asks for the newest 50 and renders them in order', async () => {
    backend.audit = () => ({
      entries: [
        entry(12, { who: 'bob', action: 'order.cancel', target: 'order:991', detail: { reason: 'duplicate' } }),
        entry(11, { detail: 'paused for maintenance' }),
        entry(10),
      ],
      next_before_id: null,
    })
    const w = await mountView()

    expect(backend.auditCalls).toEqual([{ limit: 50 }])
    expect(w.get('[data-testid="page-title"]').text()).toBe('Audit')
    expect(rowIds(w)).toEqual([12, 11, 10])

    const first = w.get('[data-testid="audit-row"]')
    expect(first.text()).toContain('bob')
    expect(first.text()).toContain('order.cancel')
    expect(first.text()).toContain('order:991')
    expect(first.get('[data-testid="audit-sentence"]').text()).toBe('Cancelled the order 991: duplicate.')
    // Its hover: the sentence whole (the cell may cut it), then the raw JSON.
    expect(first.get('[data-testid="audit-sentence"]').element.closest('td')?.getAttribute('title')).toBe(
      'Cancelled the order 991: duplicate.\n{"reason":"duplicate"}',
    )
    expect(first.get('time').attributes('datetime')).toBe('2025-01-15T10:12:00Z')
    expect(w.findAll('[data-testid="audit-row"]')[1]?.text()).toContain('paused for maintenance')
    // The one table: one line an entry, a cut cell whole on hover (the time with its offset).
    expect(w.get('[data-testid="audit-table"]').classes()).toContain('dt')
    expect(first.get('td').attributes('title')).toBe('Jan 15, 2025, 11:12:00 +01:00')
    expect(first.findAll('td').map((td) => td.classes('dt-wrap'))).not.toContain(true)

    expect(w.find('[data-testid="audit-load-older"]').exists()).toBe(false)
    expect(w.find('[data-testid="audit-empty"]').exists()).toBe(false)
    expect(w.find('[data-testid="error-banner"]').exists()).toBe(false)
  })

  it('shows the empty state when nothing was recorded', async () => {
    const w = await mountView()
    expect(w.get('[data-testid="audit-empty"]').text()).toBe('No manual actions recorded yet.')
    expect(w.find('[data-testid="audit-table"]').exists()).toBe(false)
  })

  it('shows the backend error’s message in a banner, and retries', async () => {
    backend.audit = () => ({ reject: { code: 'database_unavailable', message: 'The database is not reachable.' } })
    const w = await mountView()

    const banner = w.get('[data-testid="error-banner"]')
    expect(banner.get('[data-testid="error-message"]').text()).toBe('The database is not reachable.')
    expect(banner.text()).not.toContain('[object Object]')
    expect(w.find('[data-testid="audit-empty"]').exists()).toBe(false)

    backend.audit = () => ({ entries: [entry(1)], next_before_id: null })
    await banner.get('[data-testid="error-retry"]').trigger('click')
    await flushPromises()
    expect(w.find('[data-testid="error-banner"]').exists()).toBe(false)
    expect(rowIds(w)).toEqual([1])
    expect(backend.auditCalls).toEqual([{ limit: 50 }, { limit: 50 }])
  })

  it('shows a thrown string or Error as a message too', async () => {
    backend.audit = () => ({ reject: new Error('IPC channel closed') })
    const w = await mountView()
    expect(w.get('[data-testid="error-message"]').text()).toBe('IPC channel closed')
  })

  it('"Load older" asks for before_id and appends the older page', async () => {
    backend.audit = (q) =>
      q.before_id == null
        ? { entries: [entry(60), entry(59)], next_before_id: 59 }
        : { entries: [entry(58), entry(57)], next_before_id: null }
    const w = await mountView()
    expect(rowIds(w)).toEqual([60, 59])

    await w.get('[data-testid="audit-load-older"]').trigger('click')
    await flushPromises()

    expect(backend.auditCalls).toEqual([{ limit: 50 }, { limit: 50, before_id: 59 }])
    expect(rowIds(w)).toEqual([60, 59, 58, 57])
    // No older page left.
    expect(w.find('[data-testid="audit-load-older"]').exists()).toBe(false)
  })

  it('keeps the loaded entries when loading older ones fails', async () => {
    backend.audit = (q) =>
      q.before_id == null
        ? { entries: [entry(5)], next_before_id: 5 }
        : { reject: { code: 'internal', message: 'query failed' } }
    const w = await mountView()
    await w.get('[data-testid="audit-load-older"]').trigger('click')
    await flushPromises()

    expect(rowIds(w)).toEqual([5])
    expect(w.get('[data-testid="error-message"]').text()).toBe('Something went wrong inside OpsDeck (the details are in its log).')
    expect(w.find('[data-testid="audit-load-older"]').exists()).toBe(true)
  })
})
