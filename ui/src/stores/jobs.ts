import { defineStore } from 'pinia'
import { reactive, ref } from 'vue'
import {
  toBackendError,
  useBackend,
  type BackendError,
  type CoreEvent,
  type FireTime,
  type Job,
  type JobDraft,
  type JobEdit,
  type JobRun,
  type RunOutcome,
  type RunQuery,
  type RunSort,
  type SchedulerInstance,
  type TaskKind,
  type TriggerSpec,
} from '../backend'
import { coalesced } from './coalesced'
import { coreSubscription } from './coreSubscription'

export const RUNS_PAGE_SIZE = 50
export const PREVIEW_COUNT = 5
/** How many of a job's latest runs its charts show. */
export const SERIES_SIZE = 200

/** The run history's sort as the core takes it (null: newest first). */
export interface RunSortState {
  key: RunSort
  desc: boolean
}

/** The run history's filters; `from`/`to` are RFC 3339 instants. */
export interface RunFilters {
  job_id: number | null
  outcome: RunOutcome | null
  from: string | null
  to: string | null
}

export const NO_FILTERS: Readonly<RunFilters> = { job_id: null, outcome: null, from: null, to: null }

/** Whether `a` is news compared with `b`: a later run, or the same run further along. */
export function supersedes(a: JobRun, b: JobRun | null | undefined): boolean {
  if (!b) return true
  if (a.id !== b.id) return a.id > b.id
  return !(a.outcome === 'running' && b.outcome !== 'running')
}

export function runMatches(run: JobRun, f: RunFilters): boolean {
  if (f.job_id !== null && run.job_id !== f.job_id) return false
  if (f.outcome !== null && run.outcome !== f.outcome) return false
  const at = Date.parse(run.scheduled_at)
  if (f.from !== null && !(at >= Date.parse(f.from))) return false
  if (f.to !== null && !(at <= Date.parse(f.to))) return false
  return true
}

/** The scheduler console: jobs, task kinds, instances and run history, kept live from core events. */
export const useJobsStore = defineStore('jobs', () => {
  const backend = useBackend()

  const jobs = ref<Job[]>([])
  const jobsLoaded = ref(false)
  const jobsError = ref<BackendError | null>(null)

  const kinds = ref<TaskKind[]>([])
  const kindsError = ref<BackendError | null>(null)

  const instances = ref<SchedulerInstance[]>([])
  const instancesError = ref<BackendError | null>(null)

  const runs = ref<JobRun[]>([])
  /**
   * How many runs the history holds at most: the pages loaded (RUNS_PAGE_SIZE each). Pushed runs
   * go on top and push the oldest out (to "Load older"), so a Jobs page left open for a day with
   * jobs firing every minute does not keep every run since it opened (issue 19, item 6).
   */
  let runsWindow = RUNS_PAGE_SIZE
  const runsNextBeforeId = ref<number | null>(null)
  const runsLoaded = ref(false)
  const runsLoading = ref(false)
  const runsError = ref<BackendError | null>(null)
  /** Whether `runsError` came from "Load older" (the loaded runs are still good). */
  const runsErrorOlder = ref(false)
  const filters = ref<RunFilters>({ ...NO_FILTERS })
  const runsSort = ref<RunSortState | null>(null)
  /** With a sort: the offset of the next page (null at the end). */
  const runsNextOffset = ref<number | null>(null)
  /**
   * The latest runs of the job the history is filtered to (newest first), for its charts; null
   * while no single job is chosen. Kept live from run events, at most SERIES_SIZE.
   */
  const series = ref<{ jobId: number; runs: JobRun[]; loaded: boolean } | null>(null)

  // ---- jobs ----

  function withKnownRun(job: Job): Job {
    const current = jobs.value.find((j) => j.id === job.id)
    const known = current?.last_run
    return known && job.last_run !== known && supersedes(known, job.last_run) ? { ...job, last_run: known } : job
  }

  const refreshJobs = coalesced(async () => {
    try {
      const fetched = await backend.jobsList()
      // A run event may have landed while fetching: keep the newer last run.
      jobs.value = fetched.map(withKnownRun)
      jobsLoaded.value = true
      jobsError.value = null
    } catch (e) {
      jobsError.value = toBackendError(e)
    }
  })

  function putJob(job: Job): void {
    const merged = withKnownRun(job)
    const i = jobs.value.findIndex((j) => j.id === job.id)
    if (i >= 0) jobs.value.splice(i, 1, merged)
    else jobs.value.push(merged)
  }

  async function loadKinds(): Promise<void> {
    try {
      kinds.value = await backend.jobKinds()
      kindsError.value = null
    } catch (e) {
      kindsError.value = toBackendError(e)
    }
  }

  const refreshInstances = coalesced(async () => {
    try {
      instances.value = await backend.schedulerInstances()
      instancesError.value = null
    } catch (e) {
      instancesError.value = toBackendError(e)
    }
  })

  async function call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw toBackendError(e)
    }
  }

  // Each action rejects with a BackendError, for the caller to show.
  const pause = async (id: number) => putJob(await call(() => backend.jobPause(id)))
  const resume = async (id: number) => putJob(await call(() => backend.jobResume(id)))
  const runNow = async (id: number) => putJob(await call(() => backend.jobRunNow(id)))

  /** The runs a stop was asked for and the core has not answered yet. */
  const stoppingRuns = reactive(new Set<number>())

  /** Stops a running run (on whichever instance runs it); answers the run as the core has it. */
  async function stopRun(id: number): Promise<JobRun> {
    stoppingRuns.add(id)
    try {
      const run = await call(() => backend.runStop(id))
      applyRun(run)
      return run
    } finally {
      stoppingRuns.delete(id)
    }
  }

  async function remove(id: number): Promise<void> {
    await call(() => backend.jobDelete(id))
    jobs.value = jobs.value.filter((j) => j.id !== id)
  }

  async function create(draft: JobDraft): Promise<Job> {
    const job = await call(() => backend.jobCreate(draft))
    putJob(job)
    return job
  }

  async function update(id: number, edit: JobEdit): Promise<Job> {
    const job = await call(() => backend.jobUpdate(id, edit))
    putJob(job)
    return job
  }

  function preview(trigger: TriggerSpec, timezone: string, count = PREVIEW_COUNT): Promise<FireTime[]> {
    return call(() => backend.jobPreview(trigger, timezone, count))
  }

  // ---- run history ----

  let runsGeneration = 0

  /** The next page's query: before `after` (an id, or with a sort an offset), null for the first. */
  function query(after: number | null): RunQuery {
    const f = filters.value
    const q: RunQuery = { limit: RUNS_PAGE_SIZE }
    if (f.job_id !== null) q.job_id = f.job_id
    if (f.outcome !== null) q.outcome = f.outcome
    if (f.from !== null) q.from = f.from
    if (f.to !== null) q.to = f.to
    const sort = runsSort.value
    if (sort) {
      q.sort = sort.key
      q.desc = sort.desc
      q.offset = after ?? 0
    } else if (after !== null) q.before_id = after
    return q
  }

  /** (Re)loads the newest page for the current filters. */
  async function loadRuns(): Promise<void> {
    const gen = ++runsGeneration
    runsLoading.value = true
    runsError.value = null
    try {
      const page = await backend.runsList(query(null))
      if (gen !== runsGeneration) return
      runs.value = page.runs
      runsWindow = RUNS_PAGE_SIZE
      runsNextBeforeId.value = page.next_before_id
      runsNextOffset.value = page.next_offset ?? null
      runsLoaded.value = true
    } catch (e) {
      if (gen !== runsGeneration) return
      runsError.value = toBackendError(e)
      runsErrorOlder.value = false
    } finally {
      if (gen === runsGeneration) runsLoading.value = false
    }
  }

  /** Whether the history has a next page (older runs, or with a sort the next ones). */
  const runsHasMore = () => (runsSort.value ? runsNextOffset.value : runsNextBeforeId.value) !== null

  async function loadOlderRuns(): Promise<void> {
    const before = runsSort.value ? runsNextOffset.value : runsNextBeforeId.value
    if (before === null || runsLoading.value) return
    const gen = runsGeneration
    runsLoading.value = true
    runsError.value = null
    try {
      const page = await backend.runsList(query(before))
      if (gen !== runsGeneration) return
      const seen = new Set(runs.value.map((r) => r.id))
      runs.value = [...runs.value, ...page.runs.filter((r) => !seen.has(r.id))]
      runsWindow = Math.max(runsWindow, runs.value.length)
      runsNextBeforeId.value = page.next_before_id
      runsNextOffset.value = page.next_offset ?? null
    } catch (e) {
      if (gen !== runsGeneration) return
      runsError.value = toBackendError(e)
      runsErrorOlder.value = true
    } finally {
      if (gen === runsGeneration) runsLoading.value = false
    }
  }

  function setFilters(f: RunFilters): Promise<void> {
    filters.value = { ...f }
    void followSeries()
    return loadRuns()
  }

  /** Sorts the history on the core's side (null: newest first), from its first page. */
  function setSort(sort: RunSortState | null): Promise<void> {
    runsSort.value = sort ? { ...sort } : null
    return loadRuns()
  }

  // ---- one job's runs, for its charts ----

  let seriesGeneration = 0

  /**
   * Loads the chosen job's latest runs, or forgets them when no single job is chosen; the same
   * job again only when `again` (events were lost).
   */
  async function followSeries(again = false): Promise<void> {
    const jobId = filters.value.job_id
    if (!again && (series.value?.jobId ?? null) === jobId) return
    const gen = ++seriesGeneration
    if (jobId === null) {
      series.value = null
      return
    }
    series.value = { jobId, runs: [], loaded: false }
    try {
      const page = await backend.runsList({ job_id: jobId, limit: SERIES_SIZE })
      if (gen !== seriesGeneration) return
      series.value = { jobId, runs: page.runs, loaded: true }
    } catch {
      // The history above says why the core did not answer; the charts keep collecting.
      if (gen === seriesGeneration) series.value = { jobId, runs: [], loaded: true }
    }
  }

  function placeInSeries(run: JobRun): void {
    const s = series.value
    if (!s || run.job_id !== s.jobId) return
    const i = s.runs.findIndex((r) => r.id === run.id)
    if (i >= 0) {
      if (supersedes(run, s.runs[i])) s.runs.splice(i, 1, run)
      return
    }
    const at = s.runs.findIndex((r) => r.id < run.id)
    s.runs.splice(at >= 0 ? at : s.runs.length, 0, run)
    if (s.runs.length > SERIES_SIZE) s.runs.splice(SERIES_SIZE)
  }

  /** Puts a pushed run into the history if it belongs there under the current filters. */
  function placeRun(run: JobRun): void {
    if (!runsLoaded.value) return
    const list = runs.value
    const i = list.findIndex((r) => r.id === run.id)
    const matches = runMatches(run, filters.value)
    if (i >= 0) {
      if (!matches) list.splice(i, 1)
      else if (supersedes(run, list[i])) list.splice(i, 1, run)
      return
    }
    // Sorted by a column, a new run's place is the core's to say: it shows after a reload (a
    // run shown is still updated in place above).
    if (!matches || runsSort.value) return
    const at = list.findIndex((r) => r.id < run.id)
    if (at >= 0) list.splice(at, 0, run)
    // Older than everything loaded: it belongs on a page not loaded yet, if any.
    else if (runsNextBeforeId.value === null) list.push(run)
    if (list.length > runsWindow) {
      // The oldest go back to the pages not loaded: "Load older" continues before the last kept.
      list.splice(runsWindow)
      runsNextBeforeId.value = list[list.length - 1]!.id
    }
  }

  function applyRun(run: JobRun): void {
    const i = jobs.value.findIndex((j) => j.id === run.job_id)
    const job = jobs.value[i]
    if (job && supersedes(run, job.last_run)) jobs.value.splice(i, 1, { ...job, last_run: run })
    placeRun(run)
    placeInSeries(run)
  }

  // ---- live ----

  function onEvent(e: CoreEvent): void {
    switch (e.kind) {
      case 'jobs_changed':
        void refreshJobs()
        break
      case 'run_started':
      case 'run_finished':
        applyRun(e.run)
        // After a run the job's next fire times move on.
        if (e.kind === 'run_finished') void refreshJobs()
        void refreshInstances()
        break
    }
  }

  let running = false
  // Events were lost: the jobs, the instances and the runs under the current filters, again.
  const subscription = coreSubscription(
    backend,
    () => void Promise.all([refreshJobs(), refreshInstances(), loadRuns(), followSeries(true)]),
  )

  /** Subscribes to core events, then loads everything, the history under `initial`. Idempotent. */
  async function start(initial: Partial<RunFilters> = {}): Promise<void> {
    if (running) return
    running = true
    const isCurrent = subscription.begin()
    filters.value = { ...NO_FILTERS, ...initial }
    runsSort.value = null
    series.value = null
    try {
      await subscription.listen(isCurrent, onEvent)
    } catch (e) {
      if (isCurrent()) jobsError.value = toBackendError(e)
    }
    if (!isCurrent()) return
    await Promise.all([refreshJobs(), loadKinds(), refreshInstances(), loadRuns(), followSeries()])
  }

  function stop(): void {
    running = false
    subscription.end()
  }

  return {
    jobs,
    jobsLoaded,
    jobsError,
    kinds,
    kindsError,
    instances,
    instancesError,
    runs,
    runsNextBeforeId,
    runsLoaded,
    runsLoading,
    runsError,
    runsErrorOlder,
    runsSort,
    runsNextOffset,
    runsHasMore,
    series,
    filters,
    refreshJobs,
    loadKinds,
    refreshInstances,
    pause,
    resume,
    runNow,
    stopRun,
    stoppingRuns,
    remove,
    create,
    update,
    preview,
    loadRuns,
    loadOlderRuns,
    setFilters,
    setSort,
    start,
    stop,
  }
})
