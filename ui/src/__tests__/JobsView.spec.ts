import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import type { Pinia } from 'pinia'
import { h } from 'vue'
import { createMemoryHistory, createRouter, RouterView, type Router } from 'vue-router'
import type { RunQuery } from '../backend'
import { RUNS_PAGE_SIZE } from '../stores/jobs'
import { useNoticesStore } from '../stores/notices'
import JobsView from '../views/JobsView.vue'
import { backendPlugins, FakeBackend, fireTime, job, jobRun, schedulerInstance, staffMember } from './fakeBackend'

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

/** The Jobs page under a router, opened at `path` (e.g. a notice's link). */
async function mountRouted(path: string): Promise<{ w: VueWrapper; router: Router }> {
  const mounted = backendPlugins(backend)
  pinia = mounted.pinia
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/jobs', name: 'jobs', component: JobsView }] })
  await router.push(path)
  await router.isReady()
  wrapper = mount({ render: () => h(RouterView) }, { global: { plugins: [...mounted.plugins, router] }, attachTo: document.body })
  await flushPromises()
  return { w: wrapper, router }
}

/** The notices the page raised (stores/notices.ts; Notices.vue shows them, see Notices.spec). */
const notices = () => useNoticesStore(pinia).notices

const row = (w: VueWrapper, name: string) => w.get(`[data-testid="job-row"][data-job-name="${name}"]`)

beforeEach(() => {
  backend = new FakeBackend()
  backend.jobs = [
    job({
      id: 1,
      name: 'nightly-report',
      kind: 'send_report',
      trigger: { type: 'cron', expr: '30 2 * * *' },
      trigger_text: 'at 02:30 every day',
      timezone: 'America/New_York',
      next_fires: [
        fireTime('2026-03-07T02:30:00-05:00'),
        fireTime('2026-03-08T03:00:00-04:00', 'gap_shifted'),
        fireTime('2026-03-09T02:30:00-04:00', 'offset_changed'),
      ],
      last_run: jobRun({ id: 7, job_id: 1, outcome: 'failed' }),
      origin: 'default',
    }),
    job({
      id: 2,
      name: 'sweep',
      trigger_text: 'every 10 seconds',
      timezone: 'Asia/Shanghai',
      paused: true,
      next_fires: [],
    }),
  ]
  backend.instances = [
    schedulerInstance({ id: 'inst-self', is_self: true, runs_in_progress: 1 }),
    schedulerInstance({ id: 'inst-other', is_self: false, runs_in_progress: 0 }),
  ]
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
})

describe('JobsView', () => {
  it('renders each job with its trigger text, zone, fire times, last outcome and state', async () => {
    const w = await mountView()
    expect(w.get('[data-testid="page-title"]').text()).toBe('Jobs')
    expect(w.findAll('[data-testid="job-row"]').map((r) => r.attributes('data-job-name'))).toEqual([
      'nightly-report',
      'sweep',
    ])

    const report = row(w, 'nightly-report')
    expect(report.get('[data-testid="job-trigger"]').text()).toBe('At 02:30')
    expect(report.text()).toContain('send_report')
    expect(report.get('[data-testid="job-zone"]').text()).toBe('America/New_York')
    expect(report.get('[data-testid="job-paused"]').text()).toBe('active')
    expect(report.get('[data-testid="job-last-outcome"]').attributes('data-outcome')).toBe('failed')
    expect(report.get('[data-testid="job-last-outcome"]').text()).toBe('failed')

    const fires = report.findAll('[data-testid="job-next-fires"] [data-testid="job-fire"]')
    expect(fires.map((f) => f.get('time').text())).toEqual([
      'Mar 7, 2026, 02:30:00 -05:00',
      'Mar 8, 2026, 03:00:00 -04:00',
      'Mar 9, 2026, 02:30:00 -04:00',
    ])
    // Only the DST-affected ones are flagged, visibly and with an explanation.
    expect(fires[0]?.attributes('data-dst')).toBeUndefined()
    expect(fires[0]?.text()).not.toContain('DST')
    expect(fires[0]?.attributes('title')).toBeUndefined() // no raw ISO text on hover
    expect(fires[1]?.attributes('data-dst')).toBe('gap_shifted')
    expect(fires[1]?.text()).toContain('DST')
    expect(fires[1]?.attributes('title')).toContain('falls in a DST gap: runs at the first valid time after it')
    expect(fires[2]?.attributes('data-dst')).toBe('offset_changed')
    expect(fires[2]?.attributes('title')).toContain('the UTC offset changes before this run')
    // On screen the next one, then how many more the hover lists, with a DST mark for them.
    expect(report.get('[data-testid="job-more-fires"]').text()).toBe('+2 more DST')
    const hover = report.get('.next').attributes('title')
    expect(hover?.split('\n')).toEqual([
      'Mar 7, 2026, 02:30:00 -05:00',
      'Mar 8, 2026, 03:00:00 -04:00 — falls in a DST gap: runs at the first valid time after it',
      expect.stringContaining('Mar 9, 2026, 02:30:00 -04:00 — '),
    ])

    // A built-in job has no Delete; it is active, so Pause and not Resume.
    expect(report.find('[data-testid="job-delete"]').exists()).toBe(false)
    expect(report.find('[data-testid="job-pause"]').exists()).toBe(true)
    expect(report.find('[data-testid="job-resume"]').exists()).toBe(false)

    const sweep = row(w, 'sweep')
    expect(sweep.get('[data-testid="job-paused"]').text()).toBe('paused')
    expect(sweep.get('[data-testid="job-last-outcome"]').attributes('data-outcome')).toBe('none')
    expect(sweep.findAll('[data-testid="job-fire"]')).toHaveLength(0)
    expect(sweep.find('[data-testid="job-resume"]').exists()).toBe(true)
    expect(sweep.find('[data-testid="job-pause"]').exists()).toBe(false)
    expect(sweep.find('[data-testid="job-delete"]').exists()).toBe(true)
  })

  it('keeps every row to two lines whatever its state, actions in the one table', async () => {
    const w = await mountView()
    // The one table of the lists (DataTable), its columns fixed.
    expect(w.get('[data-testid="jobs-table"]').classes()).toContain('dt')
    const sweep = row(w, 'sweep') // paused: no fire times, still name/kind and schedule/zone
    expect(sweep.get('[data-testid="job-next-fires"]').text()).toBe('none scheduled')
    expect(sweep.find('[data-testid="job-more-fires"]').exists()).toBe(false)
    expect(sweep.classes()).toContain('row--paused')
    expect(sweep.get('[data-testid="job-trigger"]').attributes('title')).toBe(sweep.get('[data-testid="job-trigger"]').text())
    // Without a measured width (jsdom) every action is inline, in its order.
    expect(sweep.findAll('.dt-actions button').map((b) => b.attributes('data-testid'))).toEqual([
      'job-resume',
      'job-run-now',
      'job-edit',
      'job-delete',
    ])
  })

  it('shows the scheduler instances, marking this console', async () => {
    const w = await mountView()
    const items = w.findAll('[data-testid="scheduler-instance"]')
    expect(items.map((i) => i.attributes('data-instance-id'))).toEqual(['inst-self', 'inst-other'])
    expect(items[0]?.text()).toContain('this console')
    expect(items[0]?.text()).toContain('1 run in progress')
    expect(items[1]?.text()).not.toContain('this console')
  })

  it('pauses only after the confirmation is accepted', async () => {
    const w = await mountView()
    expect(w.find('[data-testid="confirm-dialog"]').exists()).toBe(false)

    await row(w, 'nightly-report').get('[data-testid="job-pause"]').trigger('click')
    const dialog = w.get('[data-testid="confirm-dialog"]')
    expect(dialog.text()).toContain('nightly-report')
    expect(backend.callsTo('job_pause')).toEqual([])

    await dialog.get('[data-testid="confirm-ok"]').trigger('click')
    await flushPromises()
    expect(backend.callsTo('job_pause')).toEqual([{ id: 1 }])
    expect(w.find('[data-testid="confirm-dialog"]').exists()).toBe(false)
    expect(row(w, 'nightly-report').get('[data-testid="job-paused"]').text()).toBe('paused')
  })

  it('does not pause when the confirmation is cancelled', async () => {
    const w = await mountView()
    await row(w, 'nightly-report').get('[data-testid="job-pause"]').trigger('click')
    await w.get('[data-testid="confirm-cancel"]').trigger('click')
    await flushPromises()
    expect(w.find('[data-testid="confirm-dialog"]').exists()).toBe(false)
    expect(backend.callsTo('job_pause')).toEqual([])
    expect(row(w, 'nightly-report').get('[data-testid="job-paused"]').text()).toBe('active')
  })

  it('deletes a staff job after confirmation; resumes and runs now without one', async () => {
    const w = await mountView()
    await row(w, 'sweep').get('[data-testid="job-resume"]').trigger('click')
    await flushPromises()
    expect(w.find('[data-testid="confirm-dialog"]').exists()).toBe(false)
    expect(backend.callsTo('job_resume')).toEqual([{ id: 2 }])
    expect(row(w, 'sweep').get('[data-testid="job-paused"]').text()).toBe('active')

    await row(w, 'sweep').get('[data-testid="job-run-now"]').trigger('click')
    await flushPromises()
    expect(backend.callsTo('job_run_now')).toEqual([{ id: 2 }])
    // Each says what it did; Run now links to the job's runs.
    expect(notices().map((n) => [n.kind, n.text])).toEqual([
      ['success', 'Resumed “sweep”: it runs on schedule again.'],
      ['success', 'Started a run of “sweep”.'],
    ])
    expect(notices()[1]?.link).toEqual({ to: { name: 'jobs', query: { job: '2' } }, label: 'View run' })

    await row(w, 'sweep').get('[data-testid="job-delete"]').trigger('click')
    expect(backend.callsTo('job_delete')).toEqual([])
    await w.get('[data-testid="confirm-ok"]').trigger('click')
    await flushPromises()
    expect(backend.callsTo('job_delete')).toEqual([{ id: 2 }])
    expect(w.find('[data-testid="job-row"][data-job-name="sweep"]').exists()).toBe(false)
    expect(notices()[notices().length - 1]?.text).toBe('Deleted “sweep”.')
  })

  it('says a failed action in an error notice, which the next try of it replaces', async () => {
    backend.failures.job_run_now = { code: 'job_not_found', message: 'no job with id 1', params: { id: '1' } }
    const w = await mountView()
    await row(w, 'nightly-report').get('[data-testid="job-run-now"]').trigger('click')
    await flushPromises()
    expect(w.find('[data-testid="error-banner"]').exists()).toBe(false)
    expect(notices()).toMatchObject([
      { kind: 'error', title: 'Could not run “nightly-report”:', text: 'There is no job #1 (it may have been deleted).', code: 'job_not_found' },
    ])

    delete backend.failures.job_run_now
    await row(w, 'nightly-report').get('[data-testid="job-run-now"]').trigger('click')
    await flushPromises()
    expect(notices().map((n) => [n.kind, n.text])).toEqual([['success', 'Started a run of “nightly-report”.']])
  })

  it('says a job was added or saved', async () => {
    const w = await mountView()
    await row(w, 'sweep').get('[data-testid="job-edit"]').trigger('click')
    await flushPromises()
    await w.get('[data-testid="job-form"]').trigger('submit')
    await flushPromises()
    expect(backend.callsTo('job_update')).toHaveLength(1)
    expect(notices().map((n) => [n.kind, n.text])).toEqual([['success', 'Saved the changes to “sweep”.']])
  })

  it('opened by a notice’s "View run" link, shows that job’s runs', async () => {
    backend.runs = () => ({ runs: [jobRun({ id: 11, job_id: 2 })], next_before_id: null })
    // The history's pages (the charts ask for runs of their own).
    const historyCalls = () =>
      backend.callsTo('runs_list').filter((c) => (c as { query: RunQuery }).query.limit === RUNS_PAGE_SIZE)
    const { w, router } = await mountRouted('/jobs?job=2')
    expect(historyCalls()).toEqual([{ query: { job_id: 2, limit: RUNS_PAGE_SIZE } }])
    expect((w.get('[data-testid="runs-filter-job"]').element as HTMLSelectElement).value).toBe('2')
    // The request is taken: the same link followed again asks again.
    expect(router.currentRoute.value.fullPath).toBe('/jobs')

    // Another job and an outcome chosen by hand; the link again shows the job's runs, only.
    await w.get('[data-testid="runs-filter-job"]').setValue('1')
    await w.get('[data-testid="runs-filter-outcome"]').setValue('failed')
    await flushPromises()
    await router.push({ name: 'jobs', query: { job: '2' } })
    await flushPromises()
    expect((w.get('[data-testid="runs-filter-job"]').element as HTMLSelectElement).value).toBe('2')
    expect((w.get('[data-testid="runs-filter-outcome"]').element as HTMLSelectElement).value).toBe('')
    const calls = historyCalls()
    expect(calls[calls.length - 1]).toEqual({ query: { job_id: 2, limit: RUNS_PAGE_SIZE } })
  })

  it('follows core events: a run updates the last outcome, jobs_changed refetches', async () => {
    const w = await mountView()
    backend.push({ kind: 'run_started', run: jobRun({ id: 8, job_id: 1, outcome: 'running' }) })
    await flushPromises()
    expect(row(w, 'nightly-report').get('[data-testid="job-last-outcome"]').attributes('data-outcome')).toBe('running')

    backend.jobs[0]!.next_fires = [fireTime('2026-03-10T02:30:00-04:00')]
    backend.push({ kind: 'run_finished', run: jobRun({ id: 8, job_id: 1, outcome: 'ok' }) })
    await flushPromises()
    const report = row(w, 'nightly-report')
    expect(report.get('[data-testid="job-last-outcome"]').attributes('data-outcome')).toBe('ok')
    expect(report.findAll('[data-testid="job-fire"]').map((f) => f.text())).toEqual(['Mar 10, 2026, 02:30:00 -04:00'])

    backend.jobs.push(job({ id: 3, name: 'added-elsewhere' }))
    backend.push({ kind: 'jobs_changed' })
    await flushPromises()
    expect(w.find('[data-testid="job-row"][data-job-name="added-elsewhere"]').exists()).toBe(true)
  })

  it('unsubscribes from core events when left', async () => {
    const w = await mountView()
    expect(backend.listenerCount).toBe(1)
    w.unmount()
    wrapper = undefined
    expect(backend.listenerCount).toBe(0)
  })
})

describe('JobsView for a viewer', () => {
  it('shows the jobs with every action disabled, saying why', async () => {
    backend.session = staffMember({ role: 'viewer' })
    const w = await mountView()
    expect(w.get('[data-testid="job-add"]').attributes('disabled')).toBeDefined()
    expect(w.get('[data-testid="job-add"]').attributes('title')).toBe('Your role (viewer) cannot add jobs')
    const sweep = row(w, 'sweep')
    for (const [id, why] of [
      ['job-resume', 'Your role (viewer) cannot resume jobs'],
      ['job-run-now', 'Your role (viewer) cannot run jobs'],
      ['job-edit', 'Your role (viewer) cannot edit jobs'],
      ['job-delete', 'Your role (viewer) cannot delete jobs'],
    ] as const) {
      expect(sweep.get(`[data-testid="${id}"]`).attributes('disabled'), id).toBeDefined()
      expect(sweep.get(`[data-testid="${id}"]`).attributes('title'), id).toBe(why)
    }
    expect(row(w, 'nightly-report').get('[data-testid="job-pause"]').attributes('disabled')).toBeDefined()
  })

  it('says the core’s refusal in an error notice', async () => {
    const w = await mountView()
    backend.session = staffMember({ role: 'viewer' }) // the core knows; the page does not yet
    await row(w, 'sweep').get('[data-testid="job-run-now"]').trigger('click')
    await flushPromises()
    expect(notices()).toMatchObject([
      { kind: 'error', title: 'Could not run “sweep”:', text: 'Your role (viewer) cannot run jobs.', code: 'forbidden' },
    ])
  })
})
