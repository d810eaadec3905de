// The fake scheduler commands, and builders of what they answer.
import type {
  FireTime,
  Job,
  JobDraft,
  JobEdit,
  JobRun,
  RunPage,
  RunQuery,
  SchedulerInstance,
  TaskKind,
  TriggerSpec,
} from '../../backend'
import { answer, clone, FakeCore } from './core'

/** The scheduler: jobs, task kinds, previews, runs and instances. */
export class FakeScheduler extends FakeCore {
  /** The core's jobs; the job actions change them as the core would. */
  jobs: Job[] = []
  kinds: TaskKind[] = [taskKind()]
  instances: SchedulerInstance[] = [schedulerInstance()]
  /** Answers jobPreview(). */
  preview: (trigger: TriggerSpec, timezone: string, count: number) => FireTime[] | { reject: unknown } = () => [
    fireTime('2026-12-05T08:00:00+08:00'),
  ]
  /** The runs runStop() finds (and marks stopped by `stopper` when running). */
  stoppableRuns: JobRun[] = []
  /** Who the core records as stopping a run (the session's staff member). */
  stopper = 'staff 1 (#1)'
  /** Answers runsList(); receives the query as the UI passed it. */
  runs: (q: RunQuery) => RunPage | { reject: unknown } = () => ({ runs: [], next_before_id: null })

  private find(id: number): Job {
    const job = this.jobs.find((j) => j.id === id)
    if (!job) throw { code: 'job_not_found', message: `no job ${id}`, params: { id: String(id) } }
    return job
  }

  async jobsList(): Promise<Job[]> {
    this.record('jobs_list')
    return clone(this.jobs)
  }

  async jobKinds(): Promise<TaskKind[]> {
    this.record('job_kinds')
    return clone(this.kinds)
  }

  async jobPreview(trigger: TriggerSpec, timezone: string, count: number): Promise<FireTime[]> {
    this.record('job_preview', { trigger, timezone, count })
    return answer(this.preview(clone(trigger), timezone, count))
  }

  async jobCreate(draft: JobDraft): Promise<Job> {
    this.record('job_create', { draft })
    const created = job({
      ...clone(draft),
      id: Math.max(0, ...this.jobs.map((j) => j.id)) + 1,
      trigger_text: triggerText(draft.trigger),
      origin: 'staff',
      next_fires: [],
    })
    this.jobs.push(created)
    return clone(created)
  }

  async jobUpdate(id: number, edit: JobEdit): Promise<Job> {
    this.record('job_update', { id, edit })
    const j = this.find(id)
    Object.assign(j, clone(edit), { trigger_text: triggerText(edit.trigger) })
    return clone(j)
  }

  async jobPause(id: number): Promise<Job> {
    this.record('job_pause', { id })
    const j = this.find(id)
    j.paused = true
    return clone(j)
  }

  async jobResume(id: number): Promise<Job> {
    this.record('job_resume', { id })
    const j = this.find(id)
    j.paused = false
    return clone(j)
  }

  async jobRunNow(id: number): Promise<Job> {
    this.record('job_run_now', { id })
    return clone(this.find(id))
  }

  async jobDelete(id: number): Promise<void> {
    this.record('job_delete', { id })
    const job = this.find(id)
    if (job.origin !== 'staff') {
      const message = `${job.name} is one of OpsDeck's own jobs: it can be paused, not deleted`
      throw { code: 'job_built_in', message, params: { name: job.name } }
    }
    this.jobs = this.jobs.filter((j) => j.id !== id)
  }

  async runsList(q: RunQuery): Promise<RunPage> {
    this.record('runs_list', { query: q })
    return answer(this.runs(clone(q)))
  }

  async runStop(id: number): Promise<JobRun> {
    this.record('run_stop', { id })
    const run = this.stoppableRuns.find((r) => r.id === id)
    if (!run) throw { code: 'run_not_found', message: `no run ${id}`, params: { id: String(id) } }
    if (run.outcome === 'running') {
      const error = { code: 'run_stopped', params: { who: this.stopper } }
      Object.assign(run, { outcome: 'stopped', finished_at: new Date().toISOString(), error })
    }
    return clone(run)
  }

  async schedulerInstances(): Promise<SchedulerInstance[]> {
    this.record('scheduler_instances')
    return clone(this.instances)
  }
}

function triggerText(t: TriggerSpec): string {
  switch (t.type) {
    case 'interval':
      return `every ${t.every_seconds} seconds`
    case 'date':
      return `once at ${t.at.replace('T', ' ')}`
    case 'cron':
      return `cron ${t.expr}`
  }
}

export function fireTime(at: string, dst: FireTime['dst'] = null): FireTime {
  return { at, dst }
}

export function job(overrides: Partial<Job> = {}): Job {
  return {
    id: 1,
    name: 'cleanup',
    kind: 'cleanup_sessions',
    trigger: { type: 'interval', every_seconds: 600, start: null, end: null },
    trigger_text: 'every 10 minutes',
    timezone: 'Asia/Shanghai',
    args: {},
    policy: { misfire_grace_seconds: 60, coalesce: true, max_instances: 1, jitter_seconds: 0, timeout_seconds: null },
    paused: false,
    origin: 'staff',
    next_fires: [fireTime('2026-01-10T10:10:00+08:00'), fireTime('2026-01-10T10:20:00+08:00')],
    last_run: null,
    ...overrides,
  }
}

export function jobRun(overrides: Partial<JobRun> = {}): JobRun {
  return {
    id: 1,
    job_id: 1,
    job_name: 'cleanup',
    scheduled_at: '2026-01-10T02:00:00Z',
    started_at: '2026-01-10T02:00:00.120Z',
    finished_at: '2026-01-10T02:00:01.370Z',
    duration_ms: 1250,
    outcome: 'ok',
    instance: 'inst-7f3a',
    manual: false,
    started_by: null,
    attempts: 1,
    summary: null,
    error: null,
    ...overrides,
  }
}

export function taskKind(overrides: Partial<TaskKind> = {}): TaskKind {
  return {
    name: 'cleanup_sessions',
    description: 'Deletes expired sessions.',
    args_example: { older_than_days: 30 },
    ...overrides,
  }
}

export function schedulerInstance(overrides: Partial<SchedulerInstance> = {}): SchedulerInstance {
  return {
    id: 'inst-7f3a',
    started_at: '2026-01-10T01:00:00Z',
    last_seen: '2026-01-10T02:00:05Z',
    is_self: true,
    runs_in_progress: 0,
    ...overrides,
  }
}

