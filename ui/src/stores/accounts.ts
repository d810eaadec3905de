import { defineStore } from 'pinia'
import { ref } from 'vue'
import {
  toBackendError,
  useBackend,
  type BackendError,
  type CoreEvent,
  type LinkRequest,
  type ProviderKey,
  type Role,
  type SignInResult,
  type UserQuery,
  type UserSort,
  type UserView,
} from '../backend'
import { coalesced } from './coalesced'
import { coreSubscription, subscription } from './coreSubscription'

export const USERS_PAGE_SIZE = 50

/** A link window: which provider is being linked to which user. */
export interface Linking {
  userId: number
  provider: ProviderKey
}

/** How a link window ended (not cancelled). */
export interface LinkOutcome extends Linking {
  result: Exclude<SignInResult, { status: 'cancelled' }>
}

/**
 * The Accounts console: a page of users with their linked logins (search by mobile or
 * username), the link requests waiting for staff, and the link window while it is open.
 * Reloaded when the core says accounts changed (`accounts_changed`).
 */
export const useAccountsStore = defineStore('accounts', () => {
  const backend = useBackend()

  const users = ref<UserView[]>([])
  const total = ref(0)
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref<BackendError | null>(null)
  /** A mobile number or username, as typed (trimmed); empty: every user. */
  const search = ref('')
  /** The core's sort (null: newest first); a page is a slice of the whole sorted list. */
  const sort = ref<{ key: UserSort; desc: boolean } | null>(null)
  const offset = ref(0)

  const requests = ref<LinkRequest[]>([])
  const requestsError = ref<BackendError | null>(null)

  const linking = ref<Linking | null>(null)
  const linkOutcome = ref<LinkOutcome | null>(null)

  async function call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw toBackendError(e)
    }
  }

  // ---- the users ----

  function query(): UserQuery {
    const q: UserQuery = { search: search.value === '' ? null : search.value, offset: offset.value, limit: USERS_PAGE_SIZE }
    if (sort.value) {
      q.sort = sort.value.key
      q.desc = sort.value.desc
    }
    return q
  }

  let generation = 0

  const refreshUsers = coalesced(async () => {
    const gen = ++generation
    loading.value = true
    try {
      const page = await backend.usersList(query())
      if (gen !== generation) return
      // Past the end (users went away meanwhile): go back to the last page.
      if (page.users.length === 0 && page.total > 0 && offset.value > 0) {
        offset.value = Math.max(0, Math.floor((page.total - 1) / USERS_PAGE_SIZE) * USERS_PAGE_SIZE)
        void refreshUsers()
        return
      }
      users.value = page.users
      total.value = page.total
      loaded.value = true
      error.value = null
    } catch (e) {
      if (gen === generation) error.value = toBackendError(e)
    } finally {
      if (gen === generation) loading.value = false
    }
  })

  /** Shows the first page of users matching `text`. */
  function setSearch(text: string): Promise<void> {
    search.value = text.trim()
    offset.value = 0
    generation++ // a page still on its way for the old search is dropped
    return refreshUsers()
  }

  /** Shows the first page sorted so (null: newest first). */
  function setSort(next: { key: UserSort; desc: boolean } | null): Promise<void> {
    sort.value = next ? { ...next } : null
    offset.value = 0
    generation++
    return refreshUsers()
  }

  /** Shows the page starting at `to` (clamped to the list). */
  function goTo(to: number): Promise<void> {
    const last = Math.max(0, Math.floor((total.value - 1) / USERS_PAGE_SIZE) * USERS_PAGE_SIZE)
    offset.value = Math.min(Math.max(0, to), last)
    generation++
    return refreshUsers()
  }

  function putUser(user: UserView): void {
    const i = users.value.findIndex((u) => u.id === user.id)
    if (i >= 0) users.value.splice(i, 1, user)
  }

  // ---- link requests ----

  const refreshRequests = coalesced(async () => {
    try {
      requests.value = await backend.linkRequestsList()
      requestsError.value = null
    } catch (e) {
      requestsError.value = toBackendError(e)
    }
  })

  async function refreshAll(): Promise<void> {
    await Promise.all([refreshUsers(), refreshRequests()])
  }

  // ---- actions: each rejects with a BackendError, for the caller to show ----

  /** Removes a linked login; the core refuses a user's last one. */
  async function unlink(linkId: number): Promise<UserView> {
    const user = await call(() => backend.unlink(linkId))
    putUser(user)
    return user
  }

  /** Gives a user a console role, or takes it away (null); admins only. */
  async function setRole(userId: number, role: Role | null): Promise<UserView> {
    const user = await call(() => backend.staffSetRole(userId, role))
    putUser(user)
    return user
  }

  /** Accepts or rejects a link request; resolves to the user when the identity was linked. */
  async function resolveRequest(id: number, accept: boolean): Promise<UserView | null> {
    const user = await call(() => backend.linkRequestResolve(id, accept))
    requests.value = requests.value.filter((r) => r.id !== id)
    if (user) putUser(user)
    void refreshAll()
    return user
  }

  /** Opens a sign-in window to link `provider` to the user; the outcome lands in `linkOutcome`. */
  async function link(userId: number, provider: ProviderKey): Promise<void> {
    linkOutcome.value = null
    linking.value = { userId, provider }
    try {
      await backend.linkStart(userId, provider)
    } catch (e) {
      linking.value = null
      throw toBackendError(e)
    }
  }

  /** Closes the link window; the `cancelled` result that follows is quiet. A failure lands in `linkOutcome`. */
  async function cancelLink(): Promise<void> {
    const was = linking.value
    try {
      await backend.signInCancel()
    } catch (e) {
      if (was) linkOutcome.value = { ...was, result: { status: 'error', error: toBackendError(e) } }
    } finally {
      linking.value = null
    }
  }

  function onResult(r: SignInResult): void {
    const was = linking.value
    if (!was) return
    linking.value = null
    if (r.status === 'cancelled') return
    linkOutcome.value = { ...was, result: r }
    if (r.status === 'linked') putUser(r.user)
    void refreshAll()
  }

  // ---- live ----

  function onEvent(e: CoreEvent): void {
    if (e.kind === 'accounts_changed') void refreshAll()
  }

  let running = false
  const events = coreSubscription(backend, () => void refreshAll())
  const results = subscription<SignInResult>((cb) => backend.onSignInResult(cb))

  /** Subscribes to core events and sign-in results, then loads the users and requests. Idempotent. */
  async function start(): Promise<void> {
    if (running) return
    running = true
    const isCurrent = events.begin()
    const resultsCurrent = results.begin()
    search.value = ''
    offset.value = 0
    linking.value = null
    linkOutcome.value = null
    try {
      await Promise.all([events.listen(isCurrent, onEvent), results.listen(resultsCurrent, onResult)])
    } catch (e) {
      if (isCurrent()) error.value = toBackendError(e)
    }
    if (!isCurrent()) return
    await refreshAll()
  }

  function stop(): void {
    running = false
    events.end()
    results.end()
    linking.value = null
  }

  return {
    users,
    total,
    loaded,
    loading,
    error,
    search,
    sort,
    offset,
    requests,
    requestsError,
    linking,
    linkOutcome,
    refreshUsers,
    refreshRequests,
    refreshAll,
    setSearch,
    setSort,
    goTo,
    unlink,
    setRole,
    resolveRequest,
    link,
    cancelLink,
    start,
    stop,
  }
})
