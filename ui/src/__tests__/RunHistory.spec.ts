import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import JobsView from '../views/JobsView.vue'
import type { RunQuery } from '../backend'
import { useJobsStore } from '../stores/jobs'
import { backendPlugins, FakeBackend, job, jobRun } from './fakeBackend'

let backend: FakeBackend
let wrapper: VueWrapper | undefined

async function mountView() {
  const { plugins } = backendPlugins(backend)
  wrapper = mount(JobsView, { global: { plugins }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

const queries = () => backend.callsTo('runs_list').map((a) => (a as { query: RunQuery }).query)
const runIds = (w: VueWrapper) => w.findAll('[data-testid="run-row"]').map((r) => Number(r.attributes('data-run-id')))

beforeEach(() => {
  backend = new FakeBackend() // app zone: Europe/Berlin (UTC+01:00 in January)
  backend.jobs = [job({ id: 1, name: 'cleanup' }), job({ id: 2, name: 'report' })]
  backend.runs = (q) =>
    q.before_id == null
      ? {
          runs: [
            jobRun({
              id: 31,
              job_id: 2,
              job_name: 'report',
              outcome: 'failed',
              scheduled_at: '2026-01-10T02:00:00Z',
              started_at: '2026-01-10T02:00:01Z',
              duration_ms: 2500,
              instance: 'inst-b',
              summary: { sent: 0, recipients: ['ops@example.com'] },
              error: { code: 'http_get_status', params: { url: 'https://shop.example/ping', status: '554' } },
            }),
            jobRun({ id: 30, job_id: 1, job_name: 'cleanup', outcome: 'ok', scheduled_at: '2026-01-10T01:50:00Z' }),
          ],
          next_before_id: 30,
        }
      : { runs: [jobRun({ id: 29, outcome: 'missed', started_at: null, duration_ms: null })], next_before_id: null }
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
})

describe('run history', () => {
  it('lists the newest runs with times in the app’s zone, duration, outcome and instance', async () => {
    const w = await mountView()
    expect(queries()).toEqual([{ limit: 50 }])
    expect(runIds(w)).toEqual([31, 30])

    const first = w.get('[data-testid="run-row"]')
    expect(first.attributes('data-job-name')).toBe('report')
    expect(first.attributes('data-outcome')).toBe('failed')
    expect(first.text()).toContain('Jan 10, 2026, 03:00:00') // scheduled, Berlin time
    expect(first.text()).toContain('Jan 10, 2026, 03:00:01') // started
    expect(first.text()).toContain('2.50 s')
    expect(first.text()).toContain('inst-b')
    expect(w.text()).toContain('Times in Europe/Berlin')
  })

  it('passes each filter on to runs_list, reading from/to in the app’s zone', async () => {
    const w = await mountView()
    const options = w.findAll('[data-testid="runs-filter-job"] option').map((o) => o.text())
    expect(options).toEqual(['All jobs', 'cleanup', 'report'])

    await w.get('[data-testid="runs-filter-job"]').setValue('2')
    await flushPromises()
    expect(queries().slice(-1)[0]).toEqual({ limit: 50, job_id: 2 })

    await w.get('[data-testid="runs-filter-outcome"]').setValue('failed')
    await flushPromises()
    expect(queries().slice(-1)[0]).toEqual({ limit: 50, job_id: 2, outcome: 'failed' })

    // Typed as yyyy-MM-dd HH:mm (a text field, not WebKit's mm/dd/yyyy datetime-local).
    expect(w.get('[data-testid="runs-filter-from"]').attributes('type')).toBe('text')
    expect(w.get('[data-testid="runs-filter-from"]').attributes('placeholder')).toBe('yyyy-MM-dd HH:mm')
    await w.get('[data-testid="runs-filter-from"]').setValue('2026-01-10 08:00')
    await w.get('[data-testid="runs-filter-to"]').setValue('2026-07-01 00:30')
    await flushPromises()
    expect(queries().slice(-1)[0]).toEqual({
      limit: 50,
      job_id: 2,
      outcome: 'failed',
      from: '2026-01-10T08:00:00+01:00',
      to: '2026-07-01T00:30:00+02:00', // summer time
    })

    // Back to everything.
    await w.get('[data-testid="runs-filter-job"]').setValue('')
    await w.get('[data-testid="runs-filter-outcome"]').setValue('')
    await w.get('[data-testid="runs-filter-from"]').setValue('')
    await w.get('[data-testid="runs-filter-to"]').setValue('')
    await flushPromises()
    expect(queries().slice(-1)[0]).toEqual({ limit: 50 })
  })

  it('refuses a date it cannot read with an inline error, and asks nothing of the core', async () => {
    const w = await mountView()
    const calls = queries().length
    await w.get('[data-testid="runs-filter-from"]').setValue('01/10/2026 08:00')
    await flushPromises()
    expect(w.get('[data-testid="runs-filter-from-error"]').text()).toBe(
      'Not a date and time: write it as yyyy-MM-dd HH:mm, e.g. 2026-01-31 08:00.',
    )
    expect(queries()).toHaveLength(calls)

    await w.get('[data-testid="runs-filter-from"]').setValue('2026-01-10 08:00')
    await flushPromises()
    expect(w.find('[data-testid="runs-filter-from-error"]').exists()).toBe(false)
    expect(queries().slice(-1)[0]).toEqual({ limit: 50, from: '2026-01-10T08:00:00+01:00' })
  })

  it('"Load older" asks for before_id with the same filters and appends', async () => {
    const w = await mountView()
    await w.get('[data-testid="runs-filter-outcome"]').setValue('missed')
    await flushPromises()
    await w.get('[data-testid="runs-load-older"]').trigger('click')
    await flushPromises()
    expect(queries().slice(-1)[0]).toEqual({ limit: 50, outcome: 'missed', before_id: 30 })
    expect(runIds(w)).toEqual([31, 30, 29])
    expect(w.find('[data-testid="runs-load-older"]').exists()).toBe(false)
  })

  it('opens a run’s detail with its summary as JSON and its error, and closes it again', async () => {
    const w = await mountView()
    expect(w.find('[data-testid="run-detail"]').exists()).toBe(false)

    await w.get('[data-testid="run-row"][data-run-id="31"]').trigger('click')
    const detail = w.get('[data-testid="run-detail"]')
    expect(detail.attributes('data-run-id')).toBe('31')
    expect(JSON.parse(detail.get('[data-testid="run-summary"]').text())).toEqual({
      sent: 0,
      recipients: ['ops@example.com'],
    })
    expect(detail.get('[data-testid="run-summary"]').text()).toContain('\n  "sent": 0') // pretty-printed
    expect(detail.get('[data-testid="run-error"]').text()).toBe('GET https://shop.example/ping answered 554.')

    // Another row shows that one instead; it has neither summary nor error.
    await w.get('[data-testid="run-row"][data-run-id="30"]').trigger('click')
    expect(w.findAll('[data-testid="run-detail"]')).toHaveLength(1)
    expect(w.get('[data-testid="run-detail"]').attributes('data-run-id')).toBe('30')
    expect(w.find('[data-testid="run-error"]').exists()).toBe(false)
    expect(w.get('[data-testid="run-detail"]').text()).toContain('No summary.')

    await w.get('[data-testid="run-row"][data-run-id="30"]').trigger('click')
    expect(w.find('[data-testid="run-detail"]').exists()).toBe(false)
  })

  it('is one line a run in the one table, the detail in a dialog that Esc closes', async () => {
    const w = await mountView()
    expect(w.get('[data-testid="runs-table"]').classes()).toContain('dt')
    // A cut cell says it all on hover: the scheduled time with its offset.
    const scheduled = w.get('[data-testid="run-row"][data-run-id="31"] td:nth-child(2)')
    expect(scheduled.attributes('title')).toBe('Jan 10, 2026, 03:00:00 +01:00')
    await w.get('[data-testid="run-row"][data-run-id="31"]').trigger('keydown', { key: 'Enter' })
    const dialog = w.get('[data-testid="run-detail"]')
    expect(dialog.attributes('role')).toBe('dialog')
    expect(document.activeElement).toBe(w.get('[data-testid="run-detail-close"]').element)
    expect(dialog.text()).toContain('Jan 10, 2026, 03:00:01 +01:00') // started, with the offset
    await w.get('.overlay').trigger('keydown', { key: 'Escape' })
    expect(w.find('[data-testid="run-detail"]').exists()).toBe(false)
  })

  it('shows the store’s filters: set elsewhere (a "View run" link), the fields say so', async () => {
    const w = await mountView()
    await useJobsStore().setFilters({ job_id: 2, outcome: 'failed', from: '2026-01-10T07:00:00Z', to: null })
    await flushPromises()
    expect((w.get('[data-testid="runs-filter-job"]').element as HTMLSelectElement).value).toBe('2')
    expect((w.get('[data-testid="runs-filter-outcome"]').element as HTMLSelectElement).value).toBe('failed')
    expect((w.get('[data-testid="runs-filter-from"]').element as HTMLInputElement).value).toBe('2026-01-10 08:00') // Berlin
    expect(queries().slice(-1)[0]).toEqual({ limit: 50, job_id: 2, outcome: 'failed', from: '2026-01-10T07:00:00Z' })

    await w.get('button.filters__clear').trigger('click')
    await flushPromises()
    expect((w.get('[data-testid="runs-filter-from"]').element as HTMLInputElement).value).toBe('')
    expect(queries().slice(-1)[0]).toEqual({ limit: 50 })
  })

  it('puts live runs at the top, without polling', async () => {
    const w = await mountView()
    const calls = queries().length
    backend.push({ kind: 'run_started', run: jobRun({ id: 32, job_name: 'cleanup', outcome: 'running', duration_ms: null }) })
    await flushPromises()
    expect(runIds(w)).toEqual([32, 31, 30])
    expect(w.get('[data-testid="run-row"]').attributes('data-outcome')).toBe('running')

    backend.push({ kind: 'run_finished', run: jobRun({ id: 32, job_name: 'cleanup', outcome: 'timed_out' }) })
    await flushPromises()
    expect(runIds(w)).toEqual([32, 31, 30])
    expect(w.get('[data-testid="run-row"]').attributes('data-outcome')).toBe('timed_out')
    expect(queries()).toHaveLength(calls)
  })
})
