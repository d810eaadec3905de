import { defineStore } from 'pinia'
import { ref } from 'vue'
import { toBackendError, useBackend, type BackendError, type CoreEvent, type SessionView } from '../backend'
import { coalesced } from './coalesced'
import { coreSubscription } from './coreSubscription'
import { useSessionStore } from './session'

/**
 * Every live staff session, for admins: who, with which provider, since and until when. Admins
 * revoke one; revoking the session this console holds signs it out. The core refuses the list
 * to others (`forbidden`), kept in `error`.
 */
export const useSessionsStore = defineStore('sessions', () => {
  const backend = useBackend()
  const session = useSessionStore()

  const sessions = ref<SessionView[]>([])
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref<BackendError | null>(null)

  const refresh = coalesced(async () => {
    loading.value = true
    try {
      sessions.value = await backend.sessionsList()
      loaded.value = true
      error.value = null
    } catch (e) {
      error.value = toBackendError(e)
    } finally {
      loading.value = false
    }
  })

  /** Ends a session; rejects with a BackendError, for the caller to show. */
  async function revoke(id: number): Promise<void> {
    const own = sessions.value.find((s) => s.id === id)?.current === true
    try {
      await backend.sessionRevoke(id)
    } catch (e) {
      throw toBackendError(e)
    }
    sessions.value = sessions.value.filter((s) => s.id !== id)
    if (own) {
      // This console's token is dead now: forget it (the shell tolerates the refusal) and go to
      // the sign-in screen; if even that fails, ask who is signed in (no one, by now).
      await session.signOut().catch(() => session.load(true))
      return
    }
    void refresh()
  }

  // ---- live ----

  function onEvent(e: CoreEvent): void {
    // A role removed or a member changed may end or rename sessions.
    if (e.kind === 'accounts_changed') void refresh()
  }

  let running = false
  const subscription = coreSubscription(backend, () => void refresh())

  /** Subscribes to core events, then loads the sessions. Idempotent. */
  async function start(): Promise<void> {
    if (running) return
    running = true
    const isCurrent = subscription.begin()
    error.value = null
    try {
      await subscription.listen(isCurrent, onEvent)
    } catch (e) {
      if (isCurrent()) error.value = toBackendError(e)
    }
    if (!isCurrent()) return
    await refresh()
  }

  function stop(): void {
    running = false
    subscription.end()
  }

  return { sessions, loaded, loading, error, refresh, revoke, start, stop }
})
