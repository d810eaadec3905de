// The Audit page's filters and sorting: each asks the core (the fake records the queries).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import AuditView from '../views/AuditView.vue'
import type { AuditEntry, AuditPage, AuditQuery } from '../backend'
import { applyLocale } from '../i18n'
import { backendPlugins, FakeBackend } from './fakeBackend'

let backend: FakeBackend
let wrapper: VueWrapper | undefined

function entry(id: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return { id, who: 'alice', action: 'job.pause', target: `job:${id}`, detail: null, at: '2025-01-15T10:00:00Z', ...overrides }
}

const LOG = [
  entry(3, { who: 'bob', action: 'order.cancel', target: 'order:991', detail: { reason: 'duplicate' } }),
  entry(2, { who: 'carol', action: 'ocr.retry', target: 'ocr', detail: { ids: [5] } }),
  entry(1),
]

/** A core that filters the log as the real one does (enough for these tests). */
function answer(q: AuditQuery): AuditPage {
  const entries = LOG.filter((e) => !q.actor || e.who === q.actor)
    .filter((e) => !q.action || (q.action.endsWith('.') ? e.action.startsWith(q.action) : e.action === q.action))
    .filter((e) => !q.search || `${e.target} ${JSON.stringify(e.detail)}`.includes(q.search))
  return { entries, next_before_id: null }
}

async function mountView() {
  const { plugins } = backendPlugins(backend)
  wrapper = mount(AuditView, { global: { plugins }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

const last = () => backend.auditCalls[backend.auditCalls.length - 1]
const rowIds = (w: VueWrapper) => w.findAll('[data-testid="audit-row"]').map((r) => Number(r.attributes('data-id')))
const sentences = (w: VueWrapper) => w.findAll('[data-testid="audit-sentence"]').map((s) => s.text())

async function choose(w: VueWrapper, testid: string, value: string) {
  await w.get(`[data-testid="${testid}"]`).setValue(value)
  await flushPromises()
}

async function typeInto(w: VueWrapper, testid: string, text: string) {
  const input = w.get(`[data-testid="${testid}"]`)
  await input.setValue(text)
  await input.trigger('keydown', { key: 'Enter' })
  await flushPromises()
}

beforeEach(() => {
  backend = new FakeBackend()
  backend.audit = answer
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
  vi.useRealTimers()
})

describe('Audit filters', () => {
  it('searches the targets and details on the core', async () => {
    const w = await mountView()
    await typeInto(w, 'audit-search', 'duplicate')
    expect(last()).toEqual({ limit: 50, search: 'duplicate' })
    expect(sentences(w)).toEqual(['Cancelled the order 991: duplicate.'])
  })

  it('filters by who acted, from the actors seen', async () => {
    const w = await mountView()
    const options = w.findAll('[data-testid="audit-filter-actor"] option').map((o) => o.text())
    expect(options).toEqual(['Anyone', 'alice', 'bob', 'carol'])
    await choose(w, 'audit-filter-actor', 'carol')
    expect(last()).toEqual({ limit: 50, actor: 'carol' })
    expect(rowIds(w)).toEqual([2])
    // The others stay choosable while one is chosen.
    expect(w.findAll('[data-testid="audit-filter-actor"] option')).toHaveLength(4)
  })

  it('filters by a family of actions named in words, in both languages', async () => {
    const w = await mountView()
    const words = () => w.findAll('[data-testid="audit-filter-family"] option').map((o) => o.text())
    expect(words()).toEqual(['All actions', 'Jobs', 'OCR', 'Orders', 'Goods', 'Staff', 'Accounts'])
    await choose(w, 'audit-filter-family', 'order')
    expect(last()).toEqual({ limit: 50, action: 'order.' })
    expect(rowIds(w)).toEqual([3])
    applyLocale('zh-CN')
    await flushPromises()
    expect(words()).toEqual(['全部操作', '任务', 'OCR 识别', '订单', '商品', '员工', '账户'])
  })

  it('filters by a time range read in the app’s zone, and by everything at once; Clear shows all again', async () => {
    const w = await mountView()
    await typeInto(w, 'audit-filter-from', '2025-01-15 10:00')
    expect(last()).toEqual({ limit: 50, from: '2025-01-15T10:00:00+01:00' })
    await typeInto(w, 'audit-filter-to', '2025-01-15 12:30')
    await choose(w, 'audit-filter-family', 'job')
    await choose(w, 'audit-filter-actor', 'alice')
    await typeInto(w, 'audit-search', 'job:1')
    expect(last()).toEqual({
      limit: 50,
      search: 'job:1',
      actor: 'alice',
      action: 'job.',
      from: '2025-01-15T10:00:00+01:00',
      to: '2025-01-15T12:30:00+01:00',
    })
    expect(rowIds(w)).toEqual([1])

    backend.audit = () => ({ entries: [], next_before_id: null })
    await typeInto(w, 'audit-search', 'nothing like it')
    expect(w.get('[data-testid="audit-empty"]').text()).toBe('No entries match these filters.')
    backend.audit = answer
    await w.get('[data-testid="audit-clear"]').trigger('click')
    await flushPromises()
    expect(last()).toEqual({ limit: 50 })
    expect(rowIds(w)).toEqual([3, 2, 1])
    expect(w.find('[data-testid="audit-clear"]').exists()).toBe(false)
  })

  it('shows the core’s refusal of a reversed range', async () => {
    backend.audit = (q) =>
      q.from && q.to
        ? { reject: { code: 'range_reversed', field: 'from', message: 'from must not be after to', params: {} } }
        : answer(q)
    const w = await mountView()
    await typeInto(w, 'audit-filter-from', '2025-01-15 12:00')
    await typeInto(w, 'audit-filter-to', '2025-01-15 10:00')
    expect(w.get('[data-testid="error-banner"]').attributes('data-code')).toBe('range_reversed')
  })
})

describe('Audit sorting', () => {
  it('sorts the whole log on the core and pages on by offset', async () => {
    backend.audit = (q) => ({
      entries: q.offset ? [entry(1)] : [entry(3), entry(2)],
      next_before_id: null,
      ...(q.offset ? {} : { next_offset: 2 }),
    })
    const w = await mountView()
    await w.get('[data-testid="audit-table"] [data-sort-key="at"]').trigger('click')
    await flushPromises()
    expect(last()).toEqual({ limit: 50, sort: 'at', desc: true })
    await w.get('[data-testid="audit-table"] [data-sort-key="who"]').trigger('click')
    await flushPromises()
    expect(last()).toEqual({ limit: 50, sort: 'who', desc: false })
    const more = w.get('[data-testid="audit-load-older"]')
    expect(more.text()).toBe('Load more')
    await more.trigger('click')
    await flushPromises()
    expect(last()).toEqual({ limit: 50, sort: 'who', desc: false, offset: 2 })
    expect(rowIds(w)).toEqual([3, 2, 1])
    expect(w.find('[data-testid="audit-load-older"]').exists()).toBe(false)
    expect(w.text()).toContain('End of the list')
    // The detail has no column to sort by on the core.
    expect(w.find('[data-testid="audit-table"] [data-sort-key="detail"]').exists()).toBe(false)
  })
})
