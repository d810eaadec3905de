import { defineStore } from 'pinia'
import { ref } from 'vue'
import {
  toBackendError,
  useBackend,
  type AuditEntry,
  type AuditQuery,
  type AuditSort,
  type BackendError,
} from '../backend'
import { coreSubscription } from './coreSubscription'

export const AUDIT_PAGE_SIZE = 50

/** The action families the filter offers: an action's part before its dot (`job.pause`). */
export const AUDIT_FAMILIES = ['job', 'ocr', 'order', 'goods', 'staff', 'account'] as const
export type AuditFamily = (typeof AUDIT_FAMILIES)[number]

/** What the log shows: a part of the target or details, who acted, a family, a time range. */
export interface AuditFilters {
  search: string
  /** Who acted (exact); empty: anyone. */
  actor: string
  family: AuditFamily | null
  /** RFC 3339 instants (DateTimeField's values); null: open. */
  from: string | null
  to: string | null
}

export const NO_AUDIT_FILTERS: Readonly<AuditFilters> = { search: '', actor: '', family: null, from: null, to: null }

export interface AuditSortState {
  key: AuditSort
  desc: boolean
}

/**
 * The Audit page: the log filtered and sorted on the core's side. Unsorted it is newest first
 * and continues by `before_id`; sorted by a column it continues by offset. "Load older" appends
 * the next page; a change of filters or sort starts from the first page again, and a page that
 * arrives for filters no longer shown is dropped. The log has no events of its own: after lost
 * events (or the link to the server back) the first page again.
 */
export const useAuditStore = defineStore('audit', () => {
  const backend = useBackend()

  const entries = ref<AuditEntry[]>([])
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref<BackendError | null>(null)
  const filters = ref<AuditFilters>({ ...NO_AUDIT_FILTERS })
  const sort = ref<AuditSortState | null>(null)
  /** Where the next page starts (unsorted: before this id; sorted: at this offset); null: none. */
  const next = ref<{ beforeId: number } | { offset: number } | null>(null)
  /** Everyone seen acting in the pages loaded, for the filter's choices (it never shrinks). */
  const actors = ref<string[]>([])

  let generation = 0

  function query(more: boolean): AuditQuery {
    const f = filters.value
    const q: AuditQuery = { limit: AUDIT_PAGE_SIZE }
    const search = f.search.trim()
    if (search !== '') q.search = search
    if (f.actor !== '') q.actor = f.actor
    if (f.family !== null) q.action = `${f.family}.`
    if (f.from !== null) q.from = f.from
    if (f.to !== null) q.to = f.to
    if (sort.value) {
      q.sort = sort.value.key
      q.desc = sort.value.desc
    }
    const from = more ? next.value : null
    if (from && 'offset' in from) q.offset = from.offset
    if (from && 'beforeId' in from) q.before_id = from.beforeId
    return q
  }

  async function fetchPage(more: boolean): Promise<void> {
    if (more && (loading.value || next.value === null)) return
    const gen = more ? generation : ++generation
    loading.value = true
    error.value = null
    try {
      const page = await backend.auditList(query(more))
      if (gen !== generation) return
      if (more) {
        const seen = new Set(entries.value.map((e) => e.id))
        entries.value = [...entries.value, ...page.entries.filter((e) => !seen.has(e.id))]
      } else {
        entries.value = page.entries
      }
      if (page.next_offset != null) next.value = { offset: page.next_offset }
      else if (page.next_before_id != null && !sort.value) next.value = { beforeId: page.next_before_id }
      else next.value = null
      const seenActors = new Set([...actors.value, ...page.entries.map((e) => e.who)])
      if (seenActors.size > actors.value.length) actors.value = [...seenActors].sort((a, b) => a.localeCompare(b))
      loaded.value = true
    } catch (e) {
      if (gen === generation) error.value = toBackendError(e)
    } finally {
      if (gen === generation) loading.value = false
    }
  }

  /** The first page for the filters and sort shown. */
  function reload(): Promise<void> {
    return fetchPage(false)
  }

  /** The next page, after those shown. */
  function loadOlder(): Promise<void> {
    return fetchPage(true)
  }

  function setFilters(f: AuditFilters): Promise<void> {
    filters.value = { ...f }
    return reload()
  }

  /** Sorted so (null: newest first). */
  function setSort(s: AuditSortState | null): Promise<void> {
    sort.value = s ? { ...s } : null
    return reload()
  }

  const events = coreSubscription(backend, () => void reload())

  /** Subscribes (for resyncs), then loads the first page. */
  async function start(): Promise<void> {
    const isCurrent = events.begin()
    try {
      await events.listen(isCurrent, () => {})
    } catch {
      // Without the subscription the page still shows the log; only a resync would be missed.
    }
    if (isCurrent()) await reload()
  }

  function stop(): void {
    events.end()
    generation++
    loading.value = false
  }

  return {
    entries,
    loaded,
    loading,
    error,
    filters,
    sort,
    next,
    actors,
    reload,
    loadOlder,
    setFilters,
    setSort,
    start,
    stop,
  }
})
