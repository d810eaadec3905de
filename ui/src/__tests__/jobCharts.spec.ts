// What a job's charts draw (jobCharts.ts), and how the jobs store keeps a sorted history and the
// chosen job's runs as runs are pushed.
import { describe, expect, it } from 'vitest'
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import { flushPromises } from '@vue/test-utils'
import { provideBackend } from '../backend'
import { bucketFor, durationPoints, failureBuckets } from '../jobCharts'
import { useJobsStore } from '../stores/jobs'
import { FakeBackend, job, jobRun } from './fakeBackend'

const at = (minutes: number) => new Date(Date.parse('2026-01-10T02:00:00Z') + minutes * 60_000).toISOString()

describe('jobCharts', () => {
  it('plots the runs that ran and ended, oldest first, failures and time-outs marked', () => {
    const points = durationPoints([
      jobRun({ id: 5, outcome: 'running', started_at: at(50), duration_ms: null }),
      jobRun({ id: 4, outcome: 'missed', started_at: null, duration_ms: null }),
      jobRun({ id: 3, outcome: 'timed_out', started_at: at(30), duration_ms: 60_000 }),
      jobRun({ id: 2, outcome: 'stopped', started_at: at(20), duration_ms: 500 }),
      jobRun({ id: 1, outcome: 'failed', started_at: at(0), duration_ms: 1500 }),
    ])
    expect(points.map((p) => [p.id, p.seconds, p.failed])).toEqual([
      [1, 1.5, true],
      [2, 0.5, false],
      [3, 60, true],
    ])
  })

  it('buckets by the hour over a few hours to a day, finer below, coarser above', () => {
    const H = 3_600_000
    expect(bucketFor(40 * 60_000).name).toBe('fiveMinutes')
    expect(bucketFor(10 * 60_000).name).toBe('minute')
    expect(bucketFor(2 * H).name).toBe('fiveMinutes')
    expect(bucketFor(3 * H).name).toBe('hour')
    expect(bucketFor(20 * H).name).toBe('hour')
    expect(bucketFor(3 * 24 * H).name).toBe('sixHours')
    expect(bucketFor(30 * 24 * H).name).toBe('day')
  })

  it('gives every bucket from the first run to the last its share of failures', () => {
    const runs = [0, 70, 75, 130, 200].map((m, i) =>
      jobRun({ id: i + 1, outcome: i === 2 || i === 3 ? 'failed' : 'ok', started_at: at(m), duration_ms: 1000 }),
    )
    const { size, buckets } = failureBuckets(durationPoints(runs))
    expect(size).toBe('hour')
    expect(buckets.map((b) => [b.ran, b.failed, b.percent])).toEqual([
      [1, 0, 0],
      [2, 1, 50],
      [1, 1, 100],
      [1, 0, 0],
    ])
    expect(failureBuckets([])).toEqual({ size: 'hour', buckets: [] })
  })
})

describe('jobs store: a sorted history and the chosen job’s runs', () => {
  function store(backend: FakeBackend) {
    const app = createApp({ render: () => null })
    provideBackend(app, backend)
    app.use(createPinia())
    return useJobsStore()
  }

  it('updates a run shown in a sorted history in place but leaves a new one to the core’s order', async () => {
    const backend = new FakeBackend()
    backend.jobs = [job({ id: 1 })]
    backend.runs = () => ({ runs: [jobRun({ id: 5, outcome: 'running', duration_ms: null })], next_before_id: null })
    const jobs = store(backend)
    await jobs.start()
    await jobs.setSort({ key: 'duration_ms', desc: true })
    backend.push({ kind: 'run_finished', run: jobRun({ id: 5, outcome: 'ok', duration_ms: 10 }) })
    backend.push({ kind: 'run_finished', run: jobRun({ id: 6, outcome: 'ok', duration_ms: 99 }) })
    await flushPromises()
    expect(jobs.runs.map((r) => [r.id, r.outcome])).toEqual([[5, 'ok']])
    await jobs.setSort(null)
    expect(backend.callsTo('runs_list').slice(-1)).toEqual([{ query: { limit: 50 } }])
  })

  it('keeps the chosen job’s latest runs for its charts, live, and forgets them when no job is chosen', async () => {
    const backend = new FakeBackend()
    backend.jobs = [job({ id: 1 }), job({ id: 2, name: 'report' })]
    backend.runs = (q) => ({ runs: q.limit === 200 ? [jobRun({ id: 3, job_id: 2 })] : [], next_before_id: null })
    const jobs = store(backend)
    await jobs.start({ job_id: 2 })
    await flushPromises()
    expect(jobs.series).toMatchObject({ jobId: 2, loaded: true })
    backend.push({ kind: 'run_finished', run: jobRun({ id: 4, job_id: 2 }) })
    backend.push({ kind: 'run_finished', run: jobRun({ id: 5, job_id: 1 }) })
    await flushPromises()
    expect(jobs.series?.runs.map((r) => r.id)).toEqual([4, 3])
    await jobs.setFilters({ job_id: null, outcome: null, from: null, to: null })
    expect(jobs.series).toBeNull()
  })
})
