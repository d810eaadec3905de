import { beforeEach, describe, expect, it } from 'vitest'
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import { flushPromises } from '@vue/test-utils'
import { provideBackend } from '../backend'
import { RUNS_PAGE_SIZE, useJobsStore } from '../stores/jobs'
import { FakeBackend, fireTime, job, jobRun } from './fakeBackend'

let backend: FakeBackend

function store() {
  const app = createApp({ render: () => null })
  provideBackend(app, backend)
  app.use(createPinia())
  return useJobsStore()
}

async function started() {
  const jobs = store()
  await jobs.start()
  await flushPromises()
  return jobs
}

beforeEach(() => {
  backend = new FakeBackend()
  backend.jobs = [
    job({ id: 1, name: 'cleanup' }),
    job({ id: 2, name: 'report', trigger: { type: 'cron', expr: '0 8 * * MON-FRI' }, trigger_text: 'at 08:00 on Monday through Friday' }),
  ]
})

describe('jobs store', () => {
  it('subscribes, then loads jobs, task kinds, instances and the newest runs', async () => {
    backend.runs = () => ({ runs: [jobRun({ id: 9 })], next_before_id: null })
    const jobs = await started()

    expect(backend.listenerCount).toBe(1)
    expect(jobs.jobsLoaded).toBe(true)
    expect(jobs.jobs.map((j) => j.name)).toEqual(['cleanup', 'report'])
    expect(jobs.jobs[1]?.trigger_text).toBe('at 08:00 on Monday through Friday')
    expect(jobs.kinds.map((k) => k.name)).toEqual(['cleanup_sessions'])
    expect(jobs.instances.map((i) => i.id)).toEqual(['inst-7f3a'])
    expect(backend.callsTo('runs_list')).toEqual([{ query: { limit: 50 } }])
    expect(jobs.runs.map((r) => r.id)).toEqual([9])
  })

  it('keeps a failed load as a BackendError', async () => {
    backend.failures.jobs_list = { code: 'database_unavailable', message: 'database is locked' }
    const jobs = await started()
    expect(jobs.jobsLoaded).toBe(false)
    expect(jobs.jobsError).toEqual({ code: 'database_unavailable', message: 'database is locked' })
  })

  it('refetches the jobs on a jobs_changed event', async () => {
    const jobs = await started()
    expect(backend.callsTo('jobs_list')).toHaveLength(1)

    backend.jobs.push(job({ id: 3, name: 'backup', origin: 'staff' }))
    backend.jobs[0]!.paused = true
    backend.push({ kind: 'jobs_changed' })
    await flushPromises()

    expect(backend.callsTo('jobs_list')).toHaveLength(2)
    expect(jobs.jobs.map((j) => j.name)).toEqual(['cleanup', 'report', 'backup'])
    expect(jobs.jobs[0]?.paused).toBe(true)
  })

  it('folds a burst of jobs_changed events into at most one more fetch', async () => {
    await started()
    for (let i = 0; i < 5; i++) backend.push({ kind: 'jobs_changed' })
    await flushPromises()
    // The first event fetches; the other four arrive meanwhile and fetch once more.
    expect(backend.callsTo('jobs_list')).toHaveLength(3)
  })

  it('on run_started/run_finished updates the job’s last run and the history, and refetches next fires', async () => {
    backend.runs = () => ({ runs: [jobRun({ id: 10, job_id: 2, job_name: 'report' })], next_before_id: null })
    const jobs = await started()
    const listCalls = backend.callsTo('jobs_list').length

    const started_ = jobRun({ id: 11, job_id: 1, outcome: 'running', finished_at: null, duration_ms: null })
    backend.push({ kind: 'run_started', run: started_ })
    expect(jobs.jobs[0]?.last_run).toEqual(started_)
    expect(jobs.runs.map((r) => [r.id, r.outcome])).toEqual([
      [11, 'running'],
      [10, 'ok'],
    ])
    // Starting a run does not move the next fire times.
    await flushPromises()
    expect(backend.callsTo('jobs_list')).toHaveLength(listCalls)

    // The core has moved the schedule on by the time the run finishes.
    backend.jobs[0]!.next_fires = [fireTime('2026-01-10T10:30:00+08:00')]
    backend.jobs[0]!.last_run = null // the list may lag behind the event
    const finished = jobRun({ id: 11, job_id: 1, outcome: 'failed', error: { code: 'task_panicked' }, summary: { deleted: 0 } })
    backend.push({ kind: 'run_finished', run: finished })
    expect(jobs.jobs[0]?.last_run).toEqual(finished)
    expect(jobs.runs.map((r) => [r.id, r.outcome])).toEqual([
      [11, 'failed'],
      [10, 'ok'],
    ])
    expect(jobs.runs[0]).toEqual(finished)

    await flushPromises()
    expect(backend.callsTo('jobs_list')).toHaveLength(listCalls + 1)
    expect(jobs.jobs[0]?.next_fires).toEqual([fireTime('2026-01-10T10:30:00+08:00')])
    // The refetched list did not undo the newer run the event brought.
    expect(jobs.jobs[0]?.last_run).toEqual(finished)
    // The other job is untouched.
    expect(jobs.jobs[1]?.last_run).toBeNull()
  })

  it('a late run_started does not overwrite the finished run', async () => {
    const jobs = await started()
    const finished = jobRun({ id: 5, job_id: 1, outcome: 'ok' })
    backend.push({ kind: 'run_finished', run: finished })
    backend.push({ kind: 'run_started', run: jobRun({ id: 5, job_id: 1, outcome: 'running' }) })
    expect(jobs.jobs[0]?.last_run).toEqual(finished)
    expect(jobs.runs).toEqual([finished])
  })

  it('puts a pushed run into the history only if it matches the filters', async () => {
    const jobs = await started()
    await jobs.setFilters({ job_id: 2, outcome: 'failed', from: null, to: null })
    expect(backend.callsTo('runs_list').slice(-1)[0]).toEqual({ query: { limit: 50, job_id: 2, outcome: 'failed' } })

    backend.push({ kind: 'run_finished', run: jobRun({ id: 20, job_id: 1, outcome: 'failed' }) }) // other job
    backend.push({ kind: 'run_started', run: jobRun({ id: 21, job_id: 2, outcome: 'running' }) }) // not failed (yet)
    expect(jobs.runs).toEqual([])

    const failed = jobRun({ id: 21, job_id: 2, job_name: 'report', outcome: 'failed' })
    backend.push({ kind: 'run_finished', run: failed })
    expect(jobs.runs).toEqual([failed])

    // A run outside the time window stays out.
    await jobs.setFilters({ job_id: null, outcome: null, from: '2026-01-10T03:00:00+01:00', to: null })
    backend.push({ kind: 'run_finished', run: jobRun({ id: 22, scheduled_at: '2026-01-10T01:59:59Z' }) })
    expect(jobs.runs).toEqual([])
    backend.push({ kind: 'run_finished', run: jobRun({ id: 23, scheduled_at: '2026-01-10T02:00:00Z' }) })
    expect(jobs.runs.map((r) => r.id)).toEqual([23])
  })

  it('keeps the history to the pages loaded: a pushed run pushes the oldest out, behind "Load older"', async () => {
    // A page left open with jobs firing every minute would otherwise keep every run since it opened.
    const page = (from: number, count: number) => Array.from({ length: count }, (_, i) => jobRun({ id: from - i }))
    backend.runs = () => ({ runs: page(1000, RUNS_PAGE_SIZE), next_before_id: 1000 - RUNS_PAGE_SIZE + 1 })
    const jobs = await started()
    for (let id = 1001; id <= 1000 + 3 * RUNS_PAGE_SIZE; id++) backend.push({ kind: 'run_finished', run: jobRun({ id }) })
    expect(jobs.runs).toHaveLength(RUNS_PAGE_SIZE)
    expect(jobs.runs[0]?.id).toBe(1000 + 3 * RUNS_PAGE_SIZE)
    const oldest = jobs.runs[RUNS_PAGE_SIZE - 1]!.id
    expect(jobs.runsNextBeforeId).toBe(oldest)

    // "Load older" continues right after the last one kept, and the window grows with it.
    backend.runs = (q) => ({ runs: page((q.before_id ?? 0) - 1, RUNS_PAGE_SIZE), next_before_id: null })
    await jobs.loadOlderRuns()
    expect(backend.callsTo('runs_list').slice(-1)[0]).toEqual({ query: { limit: RUNS_PAGE_SIZE, before_id: oldest } })
    expect(jobs.runs).toHaveLength(2 * RUNS_PAGE_SIZE)
    backend.push({ kind: 'run_finished', run: jobRun({ id: 5000 }) })
    expect(jobs.runs).toHaveLength(2 * RUNS_PAGE_SIZE)
    expect(jobs.runs[0]?.id).toBe(5000)
  })

  it('stop() unsubscribes', async () => {
    const jobs = await started()
    jobs.stop()
    expect(backend.listenerCount).toBe(0)
    backend.push({ kind: 'jobs_changed' })
    await flushPromises()
    expect(backend.callsTo('jobs_list')).toHaveLength(1)
  })

  it('actions replace the job with the one the core returns, and reject with a BackendError', async () => {
    const jobs = await started()
    await jobs.pause(1)
    expect(backend.callsTo('job_pause')).toEqual([{ id: 1 }])
    expect(jobs.jobs[0]?.paused).toBe(true)

    await jobs.remove(1)
    expect(jobs.jobs.map((j) => j.id)).toEqual([2])

    backend.failures.job_resume = 'job 2 is not paused'
    await expect(jobs.resume(2)).rejects.toEqual({ code: 'unknown', message: 'job 2 is not paused' })
  })
})
