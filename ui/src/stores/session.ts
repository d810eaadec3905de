import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import {
  toBackendError,
  useBackend,
  type BackendError,
  type CoreEvent,
  type ProviderInfo,
  type ProviderKey,
  type Role,
  type SignInResult,
  type Staff,
} from '../backend'
import { roleWord } from '../accountsFormat'
import { t } from '../i18n'
import type { Messages } from '../i18n/en'
import { coreSubscription, subscription } from './coreSubscription'

/** A sign-in outcome the sign-in screen tells staff about (signed in and cancelled need no words). */
export type SignInNotice = Extract<SignInResult, { status: 'error' | 'not_staff' | 'pending_link' }>

/** What an action needs: operators and admins act; only admins manage roles. */
export type Needs = 'operator' | 'admin'

/** An action a role may be denied, e.g. `cancelOrders` (its words: `permissions.actions.*`). */
export type Action = keyof Messages['permissions']['actions']

/**
 * Who is signed into the console, and the sign-in screen's state: the providers, the sign-in
 * window while it is open, and its outcome. Kept live from `session_changed` core events and the
 * core's `signin-result` channel.
 */
export const useSessionStore = defineStore('session', () => {
  const backend = useBackend()

  const staff = ref<Staff | null>(null)
  /** True once the core has said who is signed in (someone or no one). */
  const loaded = ref(false)
  const error = ref<BackendError | null>(null)

  /** The provider whose sign-in window is open; null when none is. */
  const signingIn = ref<ProviderKey | null>(null)
  /** How the last sign-in ended, when there is something to say; cleared by the next attempt. */
  const notice = ref<SignInNotice | null>(null)

  const role = computed<Role | null>(() => staff.value?.role ?? null)
  const canOperate = computed(() => role.value === 'admin' || role.value === 'operator')
  const isAdmin = computed(() => role.value === 'admin')

  /**
   * Why the staff member signed in may not do `action` (e.g. `cancelOrders`: "Your role (viewer)
   * cannot cancel orders"), for a disabled button's title; null when they may. The core refuses
   * such commands anyway (`forbidden`).
   */
  function cannot(action: Action, needs: Needs = 'operator'): string | null {
    const allowed = needs === 'admin' ? isAdmin.value : canOperate.value
    if (allowed) return null
    const what = t(`permissions.actions.${action}`)
    return role.value
      ? t('permissions.denied', { role: roleWord(role.value), action: what })
      : t('permissions.signInFirst', { action: what })
  }

  /** Bumped by every pushed or fetched session, so an older fetch cannot overwrite a newer push. */
  let version = 0

  function setStaff(s: Staff | null): void {
    version++
    staff.value = s
    loaded.value = true
    error.value = null
    if (s !== null) {
      signingIn.value = null
      notice.value = null
    }
  }

  let pendingLoad: Promise<void> | null = null

  /** Asks the core who is signed in, once; `force` asks again. */
  function load(force = false): Promise<void> {
    if (pendingLoad) return pendingLoad
    if (loaded.value && !force) return Promise.resolve()
    const before = version
    pendingLoad = (async () => {
      try {
        const fetched = await backend.authSession()
        if (version === before) setStaff(fetched)
      } catch (e) {
        error.value = toBackendError(e)
      } finally {
        pendingLoad = null
      }
    })()
    return pendingLoad
  }

  // ---- providers ----

  const providers = ref<ProviderInfo[]>([])
  const providersLoaded = ref(false)
  const providersError = ref<BackendError | null>(null)

  /** Loads the configured providers, once; `force` loads them again. */
  async function loadProviders(force = false): Promise<void> {
    if (providersLoaded.value && !force) return
    try {
      providers.value = await backend.authProviders()
      providersLoaded.value = true
      providersError.value = null
    } catch (e) {
      providersError.value = toBackendError(e)
    }
  }

  // ---- signing in ----

  /** Opens the provider's sign-in window; the outcome arrives as a `signin-result`. */
  async function signIn(provider: ProviderKey): Promise<void> {
    notice.value = null
    signingIn.value = provider
    try {
      await backend.signIn(provider)
    } catch (e) {
      if (signingIn.value === provider) signingIn.value = null
      notice.value = { status: 'error', error: toBackendError(e) }
    }
  }

  /** Closes the sign-in window; the `cancelled` result that follows is quiet. */
  async function cancelSignIn(): Promise<void> {
    try {
      await backend.signInCancel()
    } catch (e) {
      notice.value = { status: 'error', error: toBackendError(e) }
    } finally {
      signingIn.value = null
    }
  }

  /** Rejects with a BackendError, for the caller to show. */
  async function signOut(): Promise<void> {
    try {
      await backend.signOut()
    } catch (e) {
      throw toBackendError(e)
    }
    setStaff(null)
  }

  function onResult(r: SignInResult): void {
    if (r.status === 'signed_in') {
      setStaff(r.staff)
      return
    }
    // Signed in already: it is a link window's outcome, the Accounts page's business.
    if (staff.value !== null) return
    signingIn.value = null
    notice.value = r.status === 'cancelled' || r.status === 'linked' ? null : r
  }

  // ---- live ----

  function onEvent(e: CoreEvent): void {
    if (e.kind === 'session_changed') setStaff(e.staff)
  }

  let running = false
  let stopRefused: (() => void) | null = null
  // Events were lost: who is signed in (the session may have ended meanwhile) and the providers.
  const events = coreSubscription(backend, () => void Promise.all([load(true), loadProviders(true)]))
  const results = subscription<SignInResult>((cb) => backend.onSignInResult(cb))

  /** Subscribes to session changes and sign-in results, then loads the session and the providers. Idempotent. */
  async function start(): Promise<void> {
    if (running) return
    running = true
    // A command refused for who is asking (signed out elsewhere, the user gone, the role changed
    // since): ask the core who is signed in now; the gate and the buttons follow.
    stopRefused = backend.onRefused(() => void load(true))
    const isCurrent = events.begin()
    const resultsCurrent = results.begin()
    try {
      await Promise.all([events.listen(isCurrent, onEvent), results.listen(resultsCurrent, onResult)])
    } catch (e) {
      if (isCurrent()) error.value = toBackendError(e)
    }
    if (!isCurrent()) return
    await Promise.all([load(true), loadProviders()])
  }

  function stop(): void {
    running = false
    stopRefused?.()
    stopRefused = null
    events.end()
    results.end()
  }

  return {
    staff,
    loaded,
    error,
    role,
    canOperate,
    isAdmin,
    cannot,
    load,
    providers,
    providersLoaded,
    providersError,
    loadProviders,
    signingIn,
    notice,
    signIn,
    cancelSignIn,
    signOut,
    start,
    stop,
  }
})
