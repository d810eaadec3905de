// The console's types. Everything that crosses the boundary with the core is generated from the
// Rust types of crates/opsdeck-api into ./api.generated.ts (`cargo run -p opsdeck-api --bin
// opsdeck-gen-ts`; the test command fails when it is out of date) and re-exported here, a few
// under the console's own names (`Job` is the core's `JobView`). Written by hand below is only
// what is the console's own: the desktop shell's sign-in outcome and session event, the error a
// command rejects with as the console normalises it, and the arguments of `Backend` methods
// that are not one core type.
import type {
  ErrorBody,
  ErrorCode,
  Event,
  LinkRequest,
  Staff,
  TriggerSpec,
  UserView,
} from './api.generated'

export type {
  AppInfo,
  AttemptOutcome,
  AuditEntry,
  AuditPage,
  AuditQuery,
  AuditSort,
  Authorization,
  CancelOutcome,
  CallSample,
  CallSample as OcrCallSample,
  CancelledOrder,
  CancelledPage,
  ComponentHealth,
  ComponentStatus,
  ConnectionStatus,
  ConsoleMode,
  DatabaseBackend,
  DepthSample,
  DstNote,
  ErrorBody,
  ErrorCode,
  Event,
  FireTime,
  Goods,
  HealthReport,
  HeldClaim,
  IdCard,
  IdCardBack,
  IdCardFields,
  IdCardFront,
  /** The portrait side in full, as `ocrReveal` answers it. */
  IdCardFront as RevealedIdCard,
  InstanceOverview,
  JobDraft,
  JobEdit,
  JobFailure,
  JobOrigin,
  JobPolicy,
  JobRun,
  JobView,
  JobView as Job,
  JsonValue,
  LinkRequest,
  LinkState,
  LinkView,
  NewGoods,
  OcrAttempt,
  OcrSort,
  OrderActivity,
  OrderSort,
  RunSort,
  UserSort,
  OcrCounts,
  OcrOverview,
  OcrPage,
  OcrPause,
  OcrQuery,
  OcrRequest,
  OcrStats,
  OcrStatus,
  OcrSubmitted,
  Order,
  OrderDraft,
  OrderEvent,
  OrderItem,
  OrderKind,
  OrderPage,
  OrderQuery,
  OrdersOverview,
  OrderStatus,
  OrdersSummary,
  Overview,
  PauseKind,
  PauseKind as OcrPauseKind,
  ProviderInfo,
  ProviderKey,
  ProviderState,
  ProviderStatus,
  RecentCancel,
  RecentOcr,
  RetryOutcome,
  Role,
  RunOutcome,
  RunPage,
  RunQuery,
  SchedulerInstance,
  SessionView,
  Side,
  Staff,
  TaskKindInfo,
  TaskKindInfo as TaskKind,
  TriggerSpec,
  UserPage,
  UserQuery,
  UserView,
} from './api.generated'

export type TriggerType = TriggerSpec['type']

/** The order timeline's event kinds the console has words for (the core sends a string). */
export type OrderEventKind =
  | 'placed'
  | 'queried'
  | 'closed'
  | 'cancelled'
  | 'stock_restored'
  | 'paid'
  | 'conflict'
  | 'notify_refused'
  | 'refunded'


/**
 * What a failed command rejects with: the core's `ErrorBody`, or, for anything else that can
 * be thrown (a JS error, a bare string from the shell), code `unknown` with what it said.
 * Shown with `errorText` (../errorText.ts), from the catalogues in the viewer's language.
 */
export type BackendError = Omit<ErrorBody, 'code'> & { code: ErrorCode | 'unknown' }

/**
 * How a sign-in window ended, as the desktop shell pushes it on the `signin-result` channel:
 * the core's `SignInResult` with the session token kept in the shell.
 */
export type SignInResult =
  | { status: 'signed_in'; staff: Staff }
  /** A link started with `linkStart` was made. */
  | { status: 'linked'; user: UserView }
  /** The identity's mobile matches an existing user: staff must confirm the link first. */
  | { status: 'pending_link'; request: LinkRequest }
  /** Signed in fine, but this user has no console role: an admin must grant one. */
  | { status: 'not_staff'; user_id: number; name: string }
  | { status: 'cancelled' }
  | { status: 'error'; error: BackendError }

/**
 * Pushed on the `core-event` channel: the core's events, and the shell's own when this
 * console signed in or out or its staff member's role changed.
 */
export type CoreEvent = Event | { kind: 'session_changed'; staff: Staff | null }
