import { defineStore } from 'pinia'
import { ref } from 'vue'
import {
  toBackendError,
  useBackend,
  type BackendError,
  type CoreEvent,
  type OcrQuery,
  type OcrRequest,
  type OcrStats,
  type OcrStatus,
  type OcrSubmitted,
  type RetryOutcome,
  type Side,
} from '../backend'
import { coalesced } from './coalesced'
import { coreSubscription } from './coreSubscription'

export const OCR_PAGE_SIZE = 50

/** What the list shows: a state (null: all) and a part of the URL (empty: any). */
export interface OcrFilters {
  status: OcrStatus | null
  search: string
}

export const NO_OCR_FILTERS: Readonly<OcrFilters> = { status: null, search: '' }

/**
 * The OCR queue console: the live figures (pushed every second as `ocr_stats`) and a page of
 * requests, refetched when the core says a request changed (`ocr_updated`). No polling.
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
  const offset = ref(0)

  /** The request open in the detail panel (ID number masked), kept live. */
  const detail = ref<OcrRequest | null>(null)
  const detailError = ref<BackendError | null>(null)

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
    if (detail.value?.id === request.id) detail.value = request
  }

  // ---- the detail panel ----

  let detailGeneration = 0

  async function openDetail(id: number): Promise<void> {
    const gen = ++detailGeneration
    detail.value = requests.value.find((r) => r.id === id) ?? null
    detailError.value = null
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
  }

  // ---- actions: each rejects with a BackendError, for the caller to show ----

  async function submit(url: string, side: Side): Promise<OcrSubmitted> {
    const submitted = await call(() => backend.ocrSubmit(url, side))
    void refreshList()
    return submitted
  }

  async function retry(ids: number[]): Promise<RetryOutcome> {
    const outcome = await call(() => backend.ocrRetry(ids))
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
        // It may have moved in or out of this page (new, retried, filtered by state).
        void refreshList()
        break
    }
  }

  let running = false
  // Events were lost: the figures, the page and the open request, again.
  const subscription = coreSubscription(backend, () => void Promise.all([refreshStats(), refreshList(), refreshDetail()]))

  /** Subscribes to core events, then loads the figures and the first page under `initial`. Idempotent. */
  async function start(initial: Partial<OcrFilters> = {}): Promise<void> {
    if (running) return
    running = true
    const isCurrent = subscription.begin()
    filters.value = { ...NO_OCR_FILTERS, ...initial }
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
    offset,
    detail,
    detailError,
    refreshStats,
    refreshList,
    setFilters,
    goTo,
    openDetail,
    closeDetail,
    submit,
    retry,
    purgeDead,
    setCap,
    pause,
    resume,
    reveal,
    start,
    stop,
  }
})
