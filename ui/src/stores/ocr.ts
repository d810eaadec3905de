import { defineStore } from 'pinia'
import { ref } from 'vue'
import {
  toBackendError,
  useBackend,
  type BackendError,
  type CancelOutcome,
  type CoreEvent,
  type OcrAttempt,
  type OcrQuery,
  type OcrSort,
  type OcrRequest,
  type OcrStats,
  type OcrStatus,
  type OcrSubmitted,
  type RetryOutcome,
  type Side,
} from '../backend'
import { t } from '../i18n'
import { coalesced } from './coalesced'
import { coreSubscription } from './coreSubscription'
import { useNoticesStore } from './notices'

export const OCR_PAGE_SIZE = 50

/**
 * What the list shows: a state (null: all), a part of the URL and a part of the error or Baidu's
 * code (empty: any), and the submission time from (inclusive) / to (exclusive), RFC 3339 or null.
 */
export interface OcrFilters {
  status: OcrStatus | null
  search: string
  error: string
  from: string | null
  to: string | null
}

export const NO_OCR_FILTERS: Readonly<OcrFilters> = { status: null, search: '', error: '', from: null, to: null }

/** The list's sort as the core takes it (null: newest first). */
export interface OcrSortState {
  key: OcrSort
  desc: boolean
}

/**
 * The OCR queue console: the live figures (pushed every second as `ocr_stats`), a page of
 * requests (filtered and sorted by the core), refetched when the core says a request changed
 * (`ocr_updated`), and the open request with its calls to Baidu. No polling.
 */
export const useOcrStore = defineStore('ocr', () => {
  const backend = useBackend()

  const stats = ref<OcrStats | null>(null)
  const statsError = ref<BackendError | null>(null)

  const requests = ref<OcrRequest[]>([])
  const total = ref(0)
  const listLoaded = ref(false)
  const listLoading = ref(false)
  const listError = ref<BackendError | null>(null)
  const filters = ref<OcrFilters>({ ...NO_OCR_FILTERS })
  const sort = ref<OcrSortState | null>(null)
  const offset = ref(0)

  /** The request open in the detail panel (ID number masked), kept live. */
  const detail = ref<OcrRequest | null>(null)
  const detailError = ref<BackendError | null>(null)
  /** The open request's calls to Baidu, oldest first (null until loaded). */
  const attempts = ref<OcrAttempt[] | null>(null)
  const attemptsError = ref<BackendError | null>(null)

  async function call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw toBackendError(e)
    }
  }

  // ---- live figures ----

  /** Bumped by every pushed or returned snapshot, so an older fetch cannot overwrite it. */
  let statsVersion = 0

  function setStats(s: OcrStats): void {
    statsVersion++
    stats.value = s
    statsError.value = null
  }

  async function refreshStats(): Promise<void> {
    const version = statsVersion
    try {
      const fetched = await backend.ocrStats()
      if (version === statsVersion) setStats(fetched)
    } catch (e) {
      statsError.value = toBackendError(e)
    }
  }

  // ---- the list ----

  function query(): OcrQuery {
    const f = filters.value
    const q: OcrQuery = { offset: offset.value, limit: OCR_PAGE_SIZE }
    if (f.status !== null) q.status = f.status
    const search = f.search.trim()
    if (search !== '') q.search = search
    const error = f.error.trim()
    if (error !== '') q.error = error
    if (f.from) q.from = f.from
    if (f.to) q.to = f.to
    if (sort.value) {
      q.sort = sort.value.key
      q.desc = sort.value.desc
    }
    return q
  }

  let listGeneration = 0

  const refreshList = coalesced(async () => {
    const gen = ++listGeneration
    listLoading.value = true
    try {
      const page = await backend.ocrList(query())
      if (gen !== listGeneration) return
      // Past the end (rows were purged or finished elsewhere): go back to the last page.
      if (page.requests.length === 0 && page.total > 0 && offset.value > 0) {
        offset.value = Math.max(0, Math.floor((page.total - 1) / OCR_PAGE_SIZE) * OCR_PAGE_SIZE)
        void refreshList()
        return
      }
      requests.value = page.requests
      total.value = page.total
      listLoaded.value = true
      listError.value = null
    } catch (e) {
      if (gen === listGeneration) listError.value = toBackendError(e)
    } finally {
      if (gen === listGeneration) listLoading.value = false
    }
  })

  /** Shows the first page for these filters. */
  function setFilters(f: OcrFilters): Promise<void> {
    filters.value = { ...f }
    offset.value = 0
    listGeneration++ // a page still on its way for the old filters is dropped
    return refreshList()
  }

  /** Shows the first page sorted so (null: newest first). */
  function setSort(s: OcrSortState | null): Promise<void> {
    sort.value = s ? { ...s } : null
    offset.value = 0
    listGeneration++
    return refreshList()
  }

  /** Shows the page starting at `to` (clamped to the list). */
  function goTo(to: number): Promise<void> {
    const last = Math.max(0, Math.floor((total.value - 1) / OCR_PAGE_SIZE) * OCR_PAGE_SIZE)
    offset.value = Math.min(Math.max(0, to), last)
    listGeneration++
    return refreshList()
  }

  function applyRequest(request: OcrRequest): void {
    const i = requests.value.findIndex((r) => r.id === request.id)
    if (i >= 0) requests.value.splice(i, 1, request)
    if (detail.value?.id === request.id) {
      detail.value = request
      // A call is recorded before the request changes: the history has it by now.
      void refreshAttempts()
    }
  }

  // ---- the detail panel ----

  let detailGeneration = 0

  async function openDetail(id: number): Promise<void> {
    const gen = ++detailGeneration
    detail.value = requests.value.find((r) => r.id === id) ?? null
    detailError.value = null
    attempts.value = null
    attemptsError.value = null
    void refreshAttempts(id)
    try {
      const fetched = await backend.ocrGet(id)
      if (gen === detailGeneration) detail.value = fetched
    } catch (e) {
      if (gen === detailGeneration) detailError.value = toBackendError(e)
    }
  }

  /** Fetches the open request again (after lost events), keeping what is shown meanwhile. */
  async function refreshDetail(): Promise<void> {
    const id = detail.value?.id
    if (id === undefined) return
    const gen = detailGeneration
    try {
      const fetched = await backend.ocrGet(id)
      if (gen === detailGeneration) detail.value = fetched
    } catch (e) {
      if (gen === detailGeneration) detailError.value = toBackendError(e)
    }
  }

  function closeDetail(): void {
    detailGeneration++
    detail.value = null
    detailError.value = null
    attempts.value = null
    attemptsError.value = null
  }

  let attemptsGeneration = 0

  /** Loads the history of the open request (or `id`, being opened); the latest call wins. */
  async function refreshAttempts(id = detail.value?.id): Promise<void> {
    if (id === undefined) return
    const gen = ++attemptsGeneration
    try {
      const fetched = await backend.ocrAttempts(id)
      if (gen === attemptsGeneration) {
        attempts.value = fetched
        attemptsError.value = null
      }
    } catch (e) {
      if (gen === attemptsGeneration) attemptsError.value = toBackendError(e)
    }
  }

  // ---- actions: each rejects with a BackendError, for the caller to show ----

  async function submit(url: string, side: Side): Promise<OcrSubmitted> {
    const submitted = await call(() => backend.ocrSubmit(url, side))
    void refreshList()
    return submitted
  }

  // ---- a retry's requests, watched until they end ----
  //
  // "Retried 1 request." said nothing of what followed: a request that fails again says so in a
  // notice of its own (replacing the retry's), with its error and a link to its detail. Watched
  // from before the retry is asked (the core may answer after the request failed again), a
  // request counts once it was seen waiting again; what it fails with before the retry's own
  // notice is shown waits for `retryNoticed`, so that notice cannot replace it.

  /** Retried request id → seen pending or in flight since. */
  const retried = new Map<number, boolean>()
  let retryNoticeShown = true
  const failedBeforeNotice: OcrRequest[] = []

  function failedAgain(request: OcrRequest): void {
    useNoticesStore().failure(
      t('ocr.table.failedAgain', { id: request.id }),
      { message: request.error ?? t('ocr.table.failedAgainNoError') },
      { key: 'ocr.retry', link: { to: { name: 'ocr', query: { request: String(request.id) } }, label: t('ocr.done.viewRequest') } },
    )
  }

  function watchRetried(request: OcrRequest): void {
    if (!retried.has(request.id)) return
    if (request.status === 'pending' || request.status === 'in_flight') retried.set(request.id, true)
    else if (request.status === 'done' || request.status === 'cancelled') retried.delete(request.id)
    else if (request.status === 'dead' && retried.get(request.id)) {
      retried.delete(request.id)
      if (retryNoticeShown) failedAgain(request)
      else failedBeforeNotice.push(request)
    }
  }

  /** The retry's own notice is shown: a failure seen meanwhile is said now (after it). */
  function retryNoticed(): void {
    retryNoticeShown = true
    for (const request of failedBeforeNotice.splice(0)) failedAgain(request)
  }

  async function retry(ids: number[]): Promise<RetryOutcome> {
    for (const id of ids) retried.set(id, false)
    retryNoticeShown = false
    try {
      const outcome = await call(() => backend.ocrRetry(ids))
      void refreshList()
      return outcome
    } catch (e) {
      for (const id of ids) retried.delete(id)
      retryNoticed()
      throw e
    }
  }

  async function cancel(ids: number[]): Promise<CancelOutcome> {
    const outcome = await call(() => backend.ocrCancel(ids))
    void refreshList()
    return outcome
  }

  async function purgeDead(): Promise<number> {
    const purged = await call(() => backend.ocrPurgeDead())
    if (detail.value?.status === 'dead') closeDetail()
    void refreshList()
    return purged
  }

  const setCap = async (cap: number) => setStats(await call(() => backend.ocrSetCap(cap)))
  const pause = async () => setStats(await call(() => backend.ocrPause()))
  const resume = async () => setStats(await call(() => backend.ocrResume()))
  const reveal = (id: number) => call(() => backend.ocrReveal(id))

  // ---- live ----

  function onEvent(e: CoreEvent): void {
    switch (e.kind) {
      case 'ocr_stats':
        setStats(e.stats)
        break
      case 'ocr_updated':
        applyRequest(e.request)
        watchRetried(e.request)
        // It may have moved in or out of this page (new, retried, filtered by state).
        void refreshList()
        break
    }
  }

  let running = false
  // Events were lost: the figures, the page and the open request, again.
  const subscription = coreSubscription(
    backend,
    () => void Promise.all([refreshStats(), refreshList(), refreshDetail(), refreshAttempts()]),
  )

  /** Subscribes to core events, then loads the figures and the first page under `initial`. Idempotent. */
  async function start(initial: Partial<OcrFilters> = {}): Promise<void> {
    if (running) return
    running = true
    const isCurrent = subscription.begin()
    filters.value = { ...NO_OCR_FILTERS, ...initial }
    sort.value = null
    offset.value = 0
    try {
      await subscription.listen(isCurrent, onEvent)
    } catch (e) {
      if (isCurrent()) listError.value = toBackendError(e)
    }
    if (!isCurrent()) return
    await Promise.all([refreshStats(), refreshList()])
  }

  function stop(): void {
    running = false
    subscription.end()
    closeDetail()
    retried.clear()
    failedBeforeNotice.length = 0
    retryNoticeShown = true
  }

  return {
    stats,
    statsError,
    requests,
    total,
    listLoaded,
    listLoading,
    listError,
    filters,
    sort,
    offset,
    detail,
    detailError,
    attempts,
    attemptsError,
    refreshStats,
    refreshList,
    setFilters,
    setSort,
    goTo,
    openDetail,
    closeDetail,
    submit,
    retry,
    retryNoticed,
    cancel,
    refreshAttempts,
    purgeDead,
    setCap,
    pause,
    resume,
    reveal,
    start,
    stop,
  }
})
