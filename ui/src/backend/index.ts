// The one seam between the console and the OpsDeck core. Components and
// stores get the Backend with `useBackend()`; the app (or a test) supplies
// it with `provideBackend(app, backend)`. Only `./tauri.ts` knows about Tauri.
import { hasInjectionContext, inject, type App, type InjectionKey } from 'vue'
import { t } from '../i18n'
import { ERROR_CODES, type ErrorCode } from './api.generated'
import type {
  AppInfo,
  AuditPage,
  AuditQuery,
  BackendError,
  CancelledPage,
  ConnectionStatus,
  CoreEvent,
  FireTime,
  Goods,
  HealthReport,
  Job,
  JobDraft,
  JobEdit,
  LinkRequest,
  NewGoods,
  OcrPage,
  OcrQuery,
  OcrRequest,
  OcrStats,
  OcrSubmitted,
  Order,
  OrderDraft,
  OrderEvent,
  OrderPage,
  OrderQuery,
  OrdersSummary,
  Overview,
  ProviderInfo,
  ProviderKey,
  RetryOutcome,
  RevealedIdCard,
  Role,
  RunPage,
  RunQuery,
  SchedulerInstance,
  SessionView,
  Side,
  SignInResult,
  Staff,
  TaskKind,
  TriggerSpec,
  UserPage,
  UserQuery,
  UserView,
  CancelOutcome,
  JobRun,
  OcrAttempt,
  OrderActivity,
} from './types'

export type * from './types'

export interface Backend {
  healthReport(): Promise<HealthReport>
  appInfo(): Promise<AppInfo>
  auditList(q: AuditQuery): Promise<AuditPage>

  // ---- scheduler ----
  jobsList(): Promise<Job[]>
  jobKinds(): Promise<TaskKind[]>
  /** The next `count` fire times of a trigger in a zone; rejects with `field` set on bad input. */
  jobPreview(trigger: TriggerSpec, timezone: string, count: number): Promise<FireTime[]>
  jobCreate(draft: JobDraft): Promise<Job>
  jobUpdate(id: number, edit: JobEdit): Promise<Job>
  jobPause(id: number): Promise<Job>
  jobResume(id: number): Promise<Job>
  /** Starts a run now, outside the schedule; resolves to the job. */
  jobRunNow(id: number): Promise<Job>
  /** Only jobs of origin 'staff' can be deleted. */
  jobDelete(id: number): Promise<void>
  /** Runs newest first (or sorted by `q.sort`). */
  runsList(q: RunQuery): Promise<RunPage>
  /** Stops a running run (cooperatively, then abandoned after a grace period); audited. */
  runStop(id: number): Promise<JobRun>
  schedulerInstances(): Promise<SchedulerInstance[]>

  // ---- OCR queue ----
  /** Queues an image URL; rejects with `field: 'url'` on a bad URL. */
  ocrSubmit(url: string, side: Side): Promise<OcrSubmitted>
  /** Requests newest first; card data masked. */
  ocrList(q: OcrQuery): Promise<OcrPage>
  /** One request; its card data masked. */
  ocrGet(id: number): Promise<OcrRequest>
  /** A recognised portrait side in full: name, ID number, birth date, address (operators; audited). */
  ocrReveal(id: number): Promise<RevealedIdCard>
  /** Sends dead requests back to the queue; others are skipped. */
  ocrRetry(ids: number[]): Promise<RetryOutcome>
  /** Cancels pending requests (never called); others are skipped. Audited. */
  ocrCancel(ids: number[]): Promise<CancelOutcome>
  /** A request's calls to Baidu, oldest first. */
  ocrAttempts(id: number): Promise<OcrAttempt[]>
  /** Deletes every dead request; resolves to how many. */
  ocrPurgeDead(): Promise<number>
  /** Rejects with `field: 'cap'` when out of range. */
  ocrSetCap(cap: number): Promise<OcrStats>
  ocrPause(): Promise<OcrStats>
  ocrResume(): Promise<OcrStats>
  ocrStats(): Promise<OcrStats>

  // ---- orders ----
  /** Pending and paid orders, soonest to expire first. */
  ordersList(q: OrderQuery): Promise<OrderPage>
  /** Cancelled orders, newest first. */
  cancelledList(q: OrderQuery): Promise<CancelledPage>
  /** An order's events, oldest first. */
  orderTimeline(orderNo: string): Promise<OrderEvent[]>
  ordersSummary(): Promise<OrdersSummary>
  /** Orders placed, paid, expired, cancelled per minute over the last `minutes`, oldest first. */
  ordersActivity(minutes: number): Promise<OrderActivity[]>
  /** The Overview page's figures; then pushed as `overview` events. */
  overview(): Promise<Overview>
  /**
   * Cancels a pending order now (audited). Rejects with `field: 'reason'` without a reason, and
   * with code `forbidden` when it cannot (e.g. Alipay says it is paid: then it is marked paid).
   */
  orderCancel(orderNo: string, reason: string): Promise<void>
  /** Asks Alipay now; resolves to true when the order was found paid (and is marked paid). */
  orderCheckPayment(orderNo: string): Promise<boolean>
  goodsList(): Promise<Goods[]>
  /** Rejects with `field` set (sku, name, price_fen, stock) on bad input. */
  goodsCreate(goods: NewGoods): Promise<Goods>
  /** Rejects with `field` set (user_id, items, amount_fen) on bad input or short stock. */
  orderPlace(draft: OrderDraft): Promise<Order>

  // ---- staff sign-in and accounts ----
  /** The configured sign-in providers. */
  authProviders(): Promise<ProviderInfo[]>
  /** Who is signed in; null when no one is. */
  authSession(): Promise<Staff | null>
  /** Opens a sign-in window on the provider's page; the outcome arrives with `onSignInResult`. */
  signIn(provider: ProviderKey): Promise<void>
  /** Closes an open sign-in window; a `cancelled` result follows. */
  signInCancel(): Promise<void>
  signOut(): Promise<void>
  /** Users matching the query (by mobile or username). */
  usersList(q: UserQuery): Promise<UserPage>
  /** Opens a sign-in window to link another provider to the user; `linked` arrives on success. */
  linkStart(userId: number, provider: ProviderKey): Promise<void>
  /** Rejects with `invalid_input` for a user's last link. */
  unlink(linkId: number): Promise<UserView>
  /** Admins only; null removes console access. */
  staffSetRole(userId: number, role: Role | null): Promise<UserView>
  linkRequestsList(): Promise<LinkRequest[]>
  /** Accepts (links the identity) or rejects a pending link; resolves to the user when linked. */
  linkRequestResolve(id: number, accept: boolean): Promise<UserView | null>
  /** Subscribes to the outcomes of sign-in windows; resolves to the function that unsubscribes. */
  onSignInResult(cb: (r: SignInResult) => void): Promise<() => void>
  /** Every live staff session, the caller's marked `current` (admins only: others are refused). */
  sessionsList(): Promise<SessionView[]>
  /** Ends a session (admins; audited). Ending the caller's own signs them out at the next call. */
  sessionRevoke(id: number): Promise<void>

  // ---- where the console works (the desktop shell) ----
  /** The console's mode (embedded core or a server) and its link, now. */
  connectionStatus(): Promise<ConnectionStatus>
  /** Subscribes to the mode and link as they change; resolves to the function that unsubscribes. */
  onConnectionState(cb: (s: ConnectionStatus) => void): Promise<() => void>
  /**
   * Chooses where the console works: a server's URL, or null for the embedded core. The shell
   * checks that the server answers, remembers the choice and restarts the app; it rejects (e.g.
   * the URL refused, the server unreachable, the server fixed by the configuration) and changes
   * nothing otherwise.
   */
  serverChoose(serverUrl: string | null): Promise<void>

  /** Subscribes to core events; resolves to the function that unsubscribes. */
  onCoreEvent(cb: (e: CoreEvent) => void): Promise<() => void>
  /**
   * Told whenever the core refuses a command for who is asking (`unauthenticated`: nobody or a
   * user no longer there; `forbidden`: the role, which may have changed since the sign-in), so the
   * session can be asked again. Returns the unsubscribe function.
   */
  onRefused(cb: (e: BackendError) => void): () => void
}

export const BackendKey: InjectionKey<Backend> = Symbol('opsdeck.backend')

export function provideBackend(app: App, backend: Backend): void {
  app.provide(BackendKey, backend)
}

/**
 * The Backend provided to the app. Works in components' setup and in Pinia
 * setup stores (Pinia runs them in the app's injection context).
 */
export function useBackend(): Backend {
  const backend = hasInjectionContext() ? inject(BackendKey, null) : null
  if (!backend) {
    throw new Error('OpsDeck: no backend provided; call provideBackend(app, backend) before use')
  }
  return backend
}

export const UNKNOWN_ERROR_CODE = 'unknown' as const

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null
}

function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && (ERROR_CODES as readonly string[]).includes(v)
}

/**
 * Normalises anything a command or listener may throw into a BackendError: the core's own
 * `{ code, message, field?, params? }`, a JS Error, a bare string (what Tauri rejects with for
 * `Result<_, String>`), or anything else. A code the console does not know becomes `unknown`
 * (its message kept); `field` is kept only when it is a non-empty string, `params` only when
 * they are strings; other extra fields are dropped. Show one with `errorText` (../errorText.ts).
 */
export function toBackendError(e: unknown): BackendError {
  if (isRecord(e)) {
    const message = typeof e.message === 'string' && e.message !== '' ? e.message : null
    const code = isErrorCode(e.code) ? e.code : null
    const field = typeof e.field === 'string' && e.field !== '' ? { field: e.field } : {}
    const params = stringParams(e.params)
    if (code !== null) {
      return { code, message: message ?? t('errors.coreCode', { code }), ...field, ...params }
    }
    if (message !== null) {
      return { code: UNKNOWN_ERROR_CODE, message, ...field }
    }
    if (typeof e.code === 'string' && e.code !== '') {
      return { code: UNKNOWN_ERROR_CODE, message: t('errors.coreCode', { code: e.code }), ...field }
    }
  }
  if (typeof e === 'string' && e.trim() !== '') {
    return { code: UNKNOWN_ERROR_CODE, message: e }
  }
  if (e instanceof Error) {
    return { code: UNKNOWN_ERROR_CODE, message: e.name || 'Error' }
  }
  return { code: UNKNOWN_ERROR_CODE, message: t('errors.unknown') }
}

function stringParams(v: unknown): { params?: Record<string, string> } {
  if (!isRecord(v) || Array.isArray(v)) return {}
  const entries = Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string')
  return entries.length > 0 ? { params: Object.fromEntries(entries) } : {}
}
