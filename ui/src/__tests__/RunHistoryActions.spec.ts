// The run history's issue-19 parts: who started a manual run, Stop on a running run (confirmed,
// its outcome in a notice), sorting on the core's side with offset paging, and the chosen job's
// charts (Chart.js mocked: jsdom has no canvas).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import type { Pinia } from 'pinia'
import type { JobRun, RunQuery } from '../backend'
import { applyLocale } from '../i18n'
import { useNoticesStore } from '../stores/notices'
import { backendPlugins, FakeBackend, job, jobRun, staffMember } from './fakeBackend'

interface FakeChart {
  config: { type: string; data: { labels?: string[]; datasets: { data: unknown[]; pointBackgroundColor?: string[] }[] } }
  data: FakeChart['config']['data']
  options: { scales: { x: { ticks: { display: boolean } } } }
  update: ReturnType<typeof vi.fn>
  destroy: ReturnType<typeof vi.fn>
}
const charts: FakeChart[] = []

vi.mock('chart.js', () => {
  class Chart {
    static register = vi.fn()
    data: unknown
    options: unknown
    update = vi.fn()
    destroy = vi.fn()
    constructor(
      _ctx: unknown,
      public config: { data: unknown; options: unknown },
    ) {
      this.data = config.data
      this.options = config.options
      charts.push(this as unknown as FakeChart)
    }
  }
  const parts = [
    'BarController',
    'BarElement',
    'CategoryScale',
    'Legend',
    'LinearScale',
    'LineController',
    'LineElement',
    'PointElement',
    'ScatterController',
    'Tooltip',
  ]
  return { Chart, ...Object.fromEntries(parts.map((p) => [p, { id: p }])) }
})

const { default: JobsView } = await import('../views/JobsView.vue')

let backend: FakeBackend
let wrapper: VueWrapper | undefined
let pinia: Pinia

async function mountView() {
  const mounted = backendPlugins(backend)
  pinia = mounted.pinia
  wrapper = mount(JobsView, { global: { plugins: mounted.plugins }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

const notices = () => useNoticesStore(pinia).notices
const queries = () => backend.callsTo('runs_list').map((a) => (a as { query: RunQuery }).query)
const runRow = (w: VueWrapper, id: number) => w.get(`[data-testid="run-row"][data-run-id="${id}"]`)

const running = () =>
  jobRun({
    id: 40,
    job_id: 2,
    job_name: 'report',
    outcome: 'running',
    finished_at: null,
    duration_ms: null,
    manual: true,
    started_by: 'bob (#3)',
  })

beforeEach(() => {
  charts.length = 0
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue({} as CanvasRenderingContext2D)
  backend = new FakeBackend()
  backend.jobs = [job({ id: 1, name: 'cleanup' }), job({ id: 2, name: 'report' })]
  backend.runs = () => ({
    runs: [running(), jobRun({ id: 39, job_id: 1, job_name: 'cleanup', outcome: 'ok' })],
    next_before_id: null,
  })
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
  vi.restoreAllMocks()
  applyLocale('en')
})

describe('who started a run', () => {
  it('says "manual · who" after a manual run’s job, nothing after a scheduled one, in both languages', async () => {
    const w = await mountView()
    const manual = runRow(w, 40)
    expect(manual.attributes('data-started-by')).toBe('bob (#3)')
    expect(manual.get('[data-testid="run-started-by"]').text()).toBe('· manual · bob (#3)')
    expect(runRow(w, 39).find('[data-testid="run-started-by"]').exists()).toBe(false)

    await runRow(w, 39).trigger('click')
    expect(w.get('[data-testid="run-detail-started-by"]').text()).toBe('the schedule')

    applyLocale('zh-CN')
    await flushPromises()
    expect(runRow(w, 40).get('[data-testid="run-started-by"]').text()).toBe('· 手动 · bob (#3)')
    expect(w.get('[data-testid="run-detail-started-by"]').text()).toBe('按计划')
  })
})

describe('stopping a run', () => {
  it('asks first, then stops it: the row says stopped, the detail who stopped it, a notice the outcome', async () => {
    backend.stoppableRuns = [running()]
    const w = await mountView()
    expect(runRow(w, 39).find('[data-testid="run-stop"]').exists()).toBe(false)

    await runRow(w, 40).get('[data-testid="run-stop"]').trigger('click')
    expect(w.get('[data-testid="confirm-dialog"]').text()).toContain('Stop run #40 of “report”?')
    await w.get('[data-testid="confirm-cancel"]').trigger('click')
    expect(backend.callsTo('run_stop')).toEqual([])

    await runRow(w, 40).get('[data-testid="run-stop"]').trigger('click')
    await w.get('[data-testid="confirm-ok"]').trigger('click')
    await flushPromises()
    expect(backend.callsTo('run_stop')).toEqual([{ id: 40 }])
    expect(runRow(w, 40).attributes('data-outcome')).toBe('stopped')
    expect(w.find('[data-testid="run-stop"]').exists()).toBe(false)
    expect(notices().map((n) => [n.kind, n.text])).toEqual([['success', 'Stopped run #40 of “report”.']])

    await runRow(w, 40).trigger('click')
    const why = w.get('[data-testid="run-error"]')
    expect(why.text()).toBe('Stopped by staff 1 (#1).')
    expect(why.classes(), 'a stop is not shown as a failure').not.toContain('run-detail__pre--error')
    expect(w.get('[data-testid="run-detail"]').text()).toContain('How it stopped')
  })

  it('says a refused stop in an error notice, the run left as it was', async () => {
    const w = await mountView() // no stoppable runs: the fake answers run_not_found
    await runRow(w, 40).get('[data-testid="run-stop"]').trigger('click')
    await w.get('[data-testid="confirm-ok"]').trigger('click')
    await flushPromises()
    expect(notices()).toMatchObject([
      {
        kind: 'error',
        title: 'Could not stop run #40 of “report”:',
        text: 'There is no run #40 (it may have been pruned from the history).',
        code: 'run_not_found',
      },
    ])
    expect(runRow(w, 40).attributes('data-outcome')).toBe('running')
  })

  it('shows a viewer Stop disabled, saying why', async () => {
    backend.session = staffMember({ role: 'viewer' })
    const w = await mountView()
    const stop = runRow(w, 40).get('[data-testid="run-stop"]')
    expect(stop.attributes('disabled')).toBeDefined()
    expect(stop.attributes('title')).toBe('Your role (viewer) cannot stop runs')
  })
})

describe('sorting the history', () => {
  it('asks the core for the column and direction, and pages the sorted list by offset', async () => {
    backend.runs = (q) =>
      q.sort
        ? { runs: [jobRun({ id: 100 + (q.offset ?? 0) })], next_before_id: null, ...(q.offset ? {} : { next_offset: 50 }) }
        : { runs: [running()], next_before_id: null }
    const w = await mountView()
    await w.get('[data-sort-key="duration"]').trigger('click')
    await flushPromises()
    expect(queries().slice(-1)[0]).toEqual({ limit: 50, sort: 'duration_ms', desc: true, offset: 0 })
    expect(w.get('th[aria-sort="descending"]').text()).toContain('Duration')

    await w.get('[data-testid="runs-load-older"]').trigger('click')
    await flushPromises()
    expect(queries().slice(-1)[0]).toEqual({ limit: 50, sort: 'duration_ms', desc: true, offset: 50 })
    expect(w.findAll('[data-testid="run-row"]').map((r) => r.attributes('data-run-id'))).toEqual(['100', '150'])
    expect(w.text()).toContain('End of the list')

    await w.get('[data-sort-key="duration"]').trigger('click')
    await flushPromises()
    expect(queries().slice(-1)[0]).toEqual({ limit: 50, sort: 'duration_ms', desc: false, offset: 0 })
    await w.get('[data-sort-key="job"]').trigger('click')
    await flushPromises()
    expect(queries().slice(-1)[0]).toMatchObject({ sort: 'job_name', desc: false })
  })
})

describe('a job’s charts', () => {
  const ended = (id: number, minute: number, outcome: JobRun['outcome'], ms: number) =>
    jobRun({
      id,
      job_id: 2,
      job_name: 'report',
      outcome,
      scheduled_at: `2026-01-10T02:${String(minute).padStart(2, '0')}:00Z`,
      started_at: `2026-01-10T02:${String(minute).padStart(2, '0')}:00Z`,
      duration_ms: ms,
    })

  it('shows none until one job is chosen, then collects until runs end', async () => {
    backend.runs = (q) => ({ runs: q.job_id === 2 && q.limit === 200 ? [ended(1, 0, 'ok', 1000)] : [], next_before_id: null })
    const w = await mountView()
    expect(w.find('[data-testid="job-charts"]').exists()).toBe(false)

    await w.get('[data-testid="runs-filter-job"]').setValue('2')
    await flushPromises()
    expect(queries()).toContainEqual({ job_id: 2, limit: 200 })
    const chart = w.get('[data-testid="job-charts"]')
    expect(chart.attributes('data-points')).toBe('1')
    expect(w.get('[data-testid="job-charts-collecting"]').text()).toBe(
      'Collecting: the charts fill as runs of this job finish (1 so far).',
    )
    const durations = charts.find((c) => c.config.type === 'scatter')!
    expect(durations.options.scales.x.ticks.display, 'no made-up times under a lone point').toBe(false)

    // A run ends: it joins the charts, which now draw.
    backend.push({ kind: 'run_finished', run: ended(2, 10, 'failed', 3000) })
    await flushPromises()
    expect(w.get('[data-testid="job-charts"]').attributes('data-points')).toBe('2')
    expect(w.find('[data-testid="job-charts-collecting"]').exists()).toBe(false)
    expect(durations.options.scales.x.ticks.display).toBe(true)

    applyLocale('zh-CN')
    await w.get('[data-testid="runs-filter-job"]').setValue('')
    await flushPromises()
    expect(w.find('[data-testid="job-charts"]').exists()).toBe(false)
    expect(charts.every((c) => c.destroy.mock.calls.length === 1), 'the charts are destroyed with the view').toBe(true)
  })

  it('draws each run’s duration, failures in red, and the failed share per bucket', async () => {
    backend.runs = (q) => ({
      runs:
        q.job_id === 2
          ? [ended(4, 40, 'timed_out', 9000), ended(3, 30, 'ok', 2000), ended(2, 20, 'failed', 3000), ended(1, 0, 'ok', 1000)]
          : [],
      next_before_id: null,
    })
    const w = await mountView()
    await w.get('[data-testid="runs-filter-job"]').setValue('2')
    await flushPromises()
    const card = w.get('[data-testid="job-charts"]')
    expect(card.attributes('data-failed')).toBe('2')
    expect(card.attributes('data-bucket')).toBe('fiveMinutes')
    expect(card.text()).toContain('Duration of each run of “report”')
    expect(card.text()).toContain('Failed runs per 5 minutes')

    const [durations, rate] = charts.slice(-2)
    expect(durations!.config.type).toBe('scatter')
    expect(durations!.data.datasets[0]!.data).toEqual([
      { x: Date.parse('2026-01-10T02:00:00Z'), y: 1 },
      { x: Date.parse('2026-01-10T02:20:00Z'), y: 3 },
      { x: Date.parse('2026-01-10T02:30:00Z'), y: 2 },
      { x: Date.parse('2026-01-10T02:40:00Z'), y: 9 },
    ])
    expect(durations!.data.datasets[0]!.pointBackgroundColor).toEqual(['#3b6ef5', '#d93a3a', '#3b6ef5', '#d93a3a'])
    expect(rate!.config.type).toBe('bar')
    // 02:00 … 02:40 in 5-minute buckets, shown in the app's zone (Berlin, 03:00 …).
    expect(rate!.data.labels?.[0]).toBe('03:00')
    expect(rate!.data.datasets[0]!.data).toEqual([0, 0, 0, 0, 100, 0, 0, 0, 100])
  })
})
