// Shapes exchanged with the OpsDeck core. These mirror the Rust side's
// serde types exactly (snake_case field names included); change them only
// together with the core.

export type ComponentStatus = 'ok' | 'unreachable' | 'unknown'

export interface ComponentHealth {
  status: ComponentStatus
  /** Why the component is not ok; null when it is. */
  reason: string | null
  latency_ms: number | null
  /** Where the core looked, with credentials masked by the core. */
  target: string
}

export interface HealthReport {
  database: ComponentHealth
  redis: ComponentHealth
  /** RFC 3339 */
  checked_at: string
}

export interface AppInfo {
  version: string
  instance_id: string
  timezone: string
  redis_prefix: string
  database_backend: 'sqlite' | 'mysql'
  data_dir: string
  /** Every provider is a built-in fake (sandbox mode): the console says so. */
  sandbox: boolean
  /** Each provider and how it is set up, with the keys that configure it. */
  providers: ProviderStatus[]
}

/** `configured`: real credentials; `sandbox`: the built-in fake; `absent`: not configured. */
export type ProviderState = 'configured' | 'sandbox' | 'absent'

export interface ProviderStatus {
  /** `baidu`, `alipay`, `weibo`, `qq`, `wechat`, `dingtalk`, `oidc`. */
  name: string
  state: ProviderState
  /** The configuration keys that set it up (each also `OPSDECK_<KEY>`). */
  keys: string[]
}

export interface AuditEntry {
  id: number
  who: string
  action: string
  target: string
  detail: unknown | null
  /** RFC 3339 */
  at: string
}

export interface AuditPage {
  entries: AuditEntry[]
  /** Pass as `before_id` to get the next (older) page; null when there is none. */
  next_before_id: number | null
}

export interface AuditQuery {
  limit: number
  before_id?: number | null
}

/* ---- scheduler ---- */

/**
 * When a job fires. Local date-times ('YYYY-MM-DDTHH:MM[:SS]') are wall-clock
 * times in the job's own time zone.
 */
export type TriggerSpec =
  | { type: 'interval'; every_seconds: number; start?: string | null; end?: string | null }
  | { type: 'date'; at: string }
  /** 5 fields, or 6 with seconds first; names (MON-FRI, JAN), L, #, @hourly etc. */
  | { type: 'cron'; expr: string }

export type TriggerType = TriggerSpec['type']

export interface JobPolicy {
  misfire_grace_seconds: number
  coalesce: boolean
  max_instances: number
  jitter_seconds: number
  /** null: no timeout. */
  timeout_seconds: number | null
}

/** How a daylight-saving transition affects one fire time. */
export type DstNote = 'gap_shifted' | 'overlap_first' | 'offset_changed'

export interface FireTime {
  /** RFC 3339 with the job zone's offset, e.g. 2026-03-08T03:30:00-04:00 */
  at: string
  dst: DstNote | null
}

export type RunOutcome = 'running' | 'ok' | 'failed' | 'timed_out' | 'missed' | 'skipped_overlap'

export interface JobRun {
  id: number
  job_id: number
  job_name: string
  /** RFC 3339 */
  scheduled_at: string
  started_at: string | null
  finished_at: string | null
  duration_ms: number | null
  outcome: RunOutcome
  /** The scheduler instance that ran it. */
  instance: string
  summary: unknown | null
  error: string | null
}

export interface Job {
  id: number
  name: string
  kind: string
  trigger: TriggerSpec
  /** e.g. "every 10 seconds", "at 08:00 on Monday through Friday", "once at 2026-12-05 08:00" */
  trigger_text: string
  timezone: string
  args: unknown
  policy: JobPolicy
  paused: boolean
  origin: 'default' | 'staff'
  /** Up to 5. */
  next_fires: FireTime[]
  last_run: JobRun | null
}

export interface TaskKind {
  name: string
  description: string
  args_example: unknown
}

export interface RunQuery {
  job_id?: number | null
  outcome?: RunOutcome | null
  /** RFC 3339 */
  from?: string | null
  /** RFC 3339 */
  to?: string | null
  limit: number
  before_id?: number | null
}

export interface RunPage {
  /** Newest first. */
  runs: JobRun[]
  next_before_id: number | null
}

export interface SchedulerInstance {
  id: string
  started_at: string
  last_seen: string
  is_self: boolean
  runs_in_progress: number
}

export interface JobDraft {
  name: string
  kind: string
  trigger: TriggerSpec
  timezone: string
  args: unknown
  policy: JobPolicy
}

export interface JobEdit {
  trigger: TriggerSpec
  timezone: string
  policy: JobPolicy
  args: unknown
}

/* ---- OCR queue ---- */

/** Where a request is in its life. */
export type OcrStatus = 'pending' | 'in_flight' | 'done' | 'dead'

/** Which side of the ID card the image shows. */
export type Side = 'front' | 'back'

/**
 * The portrait side's fields, as the core hands them out: masked as a whole. `name` keeps its first
 * character (张**), `id_number` its first and last four (3201**********1234), `birth_date` is all
 * stars (********), `address` keeps at most its province and city (江苏省南京市****). An operator
 * reveals them with `ocrReveal` (audited).
 */
export interface IdCardFront {
  side: 'front'
  name: string
  id_number: string
  gender: string
  nation: string
  /** yyyyMMdd */
  birth_date: string
  address: string
}

/** The portrait side in full, as `ocrReveal` answers it. */
export type RevealedIdCard = Omit<IdCardFront, 'side'>

/** The emblem side's fields. */
export interface IdCardBack {
  side: 'back'
  issuing_authority: string
  /** yyyyMMdd */
  issue_date: string
  /** yyyyMMdd, or 长期 for a long-term card. */
  expiry_date: string
}

/** A recognised card with Baidu's verdicts. */
export interface IdCard {
  fields: IdCardFront | IdCardBack
  image_status: string
  risk_type: string | null
  /** -1 all empty, 0 invalid number, 1 consistent, 2 inconsistent with sex and birth, 3 with birth, 4 with sex. */
  idcard_number_type: number | null
  /** Baidu's log id (a u64, sent as a string so no digit is lost). */
  log_id: string | null
}

export interface OcrRequest {
  id: number
  url: string
  side: Side
  status: OcrStatus
  /** Calls made to Baidu for it. */
  attempts: number
  /** RFC 3339 */
  created_at: string
  updated_at: string
  /** When a retry is due (after a transient failure). */
  next_attempt_at: string | null
  finished_at: string | null
  error: string | null
  /** Baidu's error code, when the failure was Baidu's answer. */
  error_code: number | null
  result: IdCard | null
  /** The instance that made the last call. */
  instance: string | null
}

export interface OcrSubmitted {
  request_id: number
  status: OcrStatus
  /** True when the URL was known already (no second call is made). */
  existing: boolean
  /** The kept result when the URL was recognised already (the shop's JSON). */
  result: unknown | null
}

export interface OcrQuery {
  status?: OcrStatus | null
  /** A part of the URL. */
  search?: string | null
  offset: number
  limit: number
}

export interface OcrPage {
  /** Newest first. */
  requests: OcrRequest[]
  /** How many match the query in all. */
  total: number
}

export interface OcrCounts {
  pending: number
  in_flight: number
  done: number
  dead: number
}

export type OcrPauseKind = 'quota' | 'misconfigured' | 'manual'

export interface OcrPause {
  kind: OcrPauseKind
  reason: string
  /** RFC 3339 */
  since: string
  /** When it resumes by itself; null: only by hand. */
  until: string | null
}

/** Calls that reached Baidu in one second (all instances). */
export interface OcrCallSample {
  /** RFC 3339 */
  at: string
  calls: number
}

export interface OcrStats {
  counts: OcrCounts
  /** Calls per second allowed across all instances. */
  cap: number
  cap_source: 'config' | 'console'
  /** The last 60 seconds, oldest first. */
  calls: OcrCallSample[]
  /** Seconds to work off the waiting requests at the cap; null when nothing waits. */
  drain_seconds: number | null
  pause: OcrPause | null
  /** True when OpsDeck talks to its built-in fake Baidu (no credentials configured). */
  sandbox: boolean
}

export interface RetryOutcome {
  retried: number
  /** Not dead (any more): left as they are. */
  skipped: number
}

/* ---- orders ---- */

export type OrderKind = 'goods' | 'top_up'

/** An order in the orders table; cancelled ones are `CancelledOrder`s. */
export type OrderStatus = 'pending' | 'paid'

export interface OrderItem {
  goods_id: number
  quantity: number
  /** The good's price when ordered. */
  price_fen: number
}

export interface Order {
  id: number
  order_no: string
  user_id: number
  kind: OrderKind
  amount_fen: number
  status: OrderStatus
  /** RFC 3339 */
  created_at: string
  /** When an unpaid order is due for cancelling (RFC 3339). */
  expires_at: string
  paid_at: string | null
  /** Alipay's trade number, once paid. */
  trade_no: string | null
  /** Empty for a top-up. */
  items: OrderItem[]
  /** Alipay's `time_expire` for this order's trade (`yyyy-MM-dd HH:mm:ss`, GMT+8): before the deadline. */
  alipay_time_expire: string
}

export interface CancelledOrder {
  order_id: number
  order_no: string
  user_id: number
  kind: OrderKind
  amount_fen: number
  created_at: string
  expires_at: string
  cancelled_at: string
  reason: string
  /** `sweep`, or the staff member. */
  cancelled_by: string
}

export interface OrderQuery {
  /** An exact order number or user id. */
  search?: string | null
  /** Orders only (the cancelled list has no states). */
  status?: OrderStatus | null
  offset: number
  limit: number
}

export interface OrderPage {
  /** Soonest to expire first. */
  orders: Order[]
  total: number
}

export interface CancelledPage {
  /** Newest cancellation first. */
  orders: CancelledOrder[]
  total: number
}

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

/** One line of an order's timeline. */
export interface OrderEvent {
  at: string
  event: OrderEventKind
  detail: unknown | null
  who: string
  /** The key of the job run that acted (`s:<job id>:<ms>`, `m:<job id>:<ms>:<nonce>`). */
  run_key: string | null
}

export interface OrdersSummary {
  pending: number
  /** Pending orders that expire within five minutes (when the summary was read). */
  expiring_soon: number
  /** True when OpsDeck talks to its built-in fake Alipay (no keys configured). */
  sandbox: boolean
}

export interface Goods {
  id: number
  sku: string
  name: string
  price_fen: number
  stock_available: number
  /** Held by pending orders. */
  stock_locked: number
  stock_sold: number
}

export interface NewGoods {
  sku: string
  name: string
  price_fen: number
  stock: number
}

/** What the shop orders: goods with items, or a top-up with an amount. */
export interface OrderDraft {
  user_id: number
  kind: OrderKind
  items: { goods_id: number; quantity: number }[]
  amount_fen?: number | null
}

/* ---- staff sign-in and accounts ---- */

/** A staff member's console role: admins also manage roles; viewers only look. */
export type Role = 'admin' | 'operator' | 'viewer'

/** The third-party logins OpsDeck can sign in with. */
export type ProviderKey = 'weibo' | 'qq' | 'wechat' | 'dingtalk' | 'oidc'

export interface ProviderInfo {
  key: ProviderKey
  /** The display name, e.g. "Weibo", or the OIDC provider's configured name. */
  name: string
  /** True when it is OpsDeck's built-in fake of the provider (no credentials configured). */
  sandbox: boolean
}

/** Who is signed into this console. */
export interface Staff {
  user_id: number
  name: string
  role: Role
  /** The login used to sign in. */
  provider: ProviderKey
  avatar: string | null
  /** RFC 3339 */
  signed_in_at: string
}

/** One third-party login linked to a user. */
export interface LinkView {
  id: number
  provider: ProviderKey
  /** The provider's user id, masked. */
  uid_masked: string
  nickname: string | null
  avatar: string | null
  /** RFC 3339 */
  linked_at: string
  last_sign_in_at: string | null
}

export interface UserView {
  id: number
  username: string
  nickname: string | null
  mobile_masked: string | null
  avatar: string | null
  /** Null: no console access. */
  role: Role | null
  /** RFC 3339 */
  created_at: string
  last_sign_in_at: string | null
  links: LinkView[]
}

export interface UserPage {
  users: UserView[]
  /** How many match the query in all. */
  total: number
}

export interface UserQuery {
  /** Matches a mobile number or a username; null: every user. */
  search: string | null
  offset: number
  limit: number
}

/**
 * A sign-in whose mobile number matches an existing user: staff must confirm before the
 * identity is linked to that user.
 */
export interface LinkRequest {
  id: number
  user_id: number
  username: string
  provider: ProviderKey
  uid_masked: string
  nickname: string | null
  mobile_masked: string
  /** What the provider verified about this login (`mobile`, `email`): shown before confirming. */
  verified: string[]
  /** RFC 3339 */
  created_at: string
}

/** How a sign-in window ended; pushed on the `signin-result` channel. */
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

/** Pushed by the core on the `core-event` channel. Later issues add kinds. */
export type CoreEvent =
  | { kind: 'health'; report: HealthReport }
  /** A job was added, edited, paused, resumed or deleted: refetch the list. */
  | { kind: 'jobs_changed' }
  | { kind: 'run_started'; run: JobRun }
  | { kind: 'run_finished'; run: JobRun }
  /** An OCR request changed state; its ID number masked. */
  | { kind: 'ocr_updated'; request: OcrRequest }
  /** The OCR queue's live figures (every second, and right after a change). */
  | { kind: 'ocr_stats'; stats: OcrStats }
  /** Orders were placed, paid or cancelled: reload. */
  | { kind: 'orders_changed' }
  /** Users, their links or roles changed: reload. */
  | { kind: 'accounts_changed' }
  /** The Overview page's figures (every few seconds while the window listens). */
  | { kind: 'overview'; overview: Overview }
  /** This console signed in or out, or its staff member's role changed. */
  | { kind: 'session_changed'; staff: Staff | null }

/** What a failed command rejects with. */
export interface BackendError {
  code: string
  message: string
  /** The input field the error is about (form validation), when there is one. */
  field?: string | null
}

// ---- overview ----

/** One point of the OCR depth chart (a 30-second bucket). */
export interface DepthSample {
  /** RFC 3339 */
  at: string
  /** Pending and in-flight requests. */
  depth: number
  /** Calls per second achieved over the bucket. */
  calls_per_second: number
}

export interface RecentOcr {
  id: number
  side: Side
  status: OcrStatus
  /** RFC 3339 */
  finished_at: string
}

export interface RecentCancel {
  order_no: string
  amount_fen: number
  /** RFC 3339 */
  cancelled_at: string
  reason: string
  cancelled_by: string
}

export interface JobFailure {
  job_id: number
  job_name: string
  run_id: number
  outcome: RunOutcome
  /** RFC 3339 */
  scheduled_at: string
  error: string | null
}

export interface HeldClaim {
  job_id: number
  job_name: string
  /** RFC 3339 */
  scheduled_at: string
}

export interface InstanceOverview {
  id: string
  is_self: boolean
  /** RFC 3339 */
  started_at: string
  /** RFC 3339 */
  last_seen: string
  /** Runs in progress under this instance's claims. */
  claims: HeldClaim[]
}

/** Everything the Overview page shows (health comes with the health events). */
export interface Overview {
  /** RFC 3339 */
  at: string
  sandbox: boolean
  ocr: {
    counts: OcrCounts
    cap: number
    /** Achieved over the last minute, all instances. */
    calls_per_second: number
    calls: OcrCallSample[]
    /** The last hour, oldest first. */
    history: DepthSample[]
    pause: OcrPause | null
    done_last_hour: number
    dead_last_hour: number
    recent: RecentOcr[]
    sandbox: boolean
  }
  orders: {
    pending: number
    /** Pending orders whose deadline falls within the next 5 minutes. */
    expiring_soon: number
    cancelled_last_hour: number
    paid_last_hour: number
    /** Payments the expiry sweep found by asking Alipay (the notify never came). */
    paid_late_last_hour: number
    recent_cancelled: RecentCancel[]
    sandbox: boolean
  }
  /** The latest failure of each job that has one, newest first. */
  failures: JobFailure[]
  instances: InstanceOverview[]
}
