// The real Backend: Tauri 2 IPC to the OpsDeck core. The only module that
// imports @tauri-apps/api.
import { invoke } from '@tauri-apps/api/core'
import { listen } from '@tauri-apps/api/event'
import { toBackendError, type Backend, type BackendError } from './index'
import type {
  AppInfo,
  AuditPage,
  AuditQuery,
  CancelOutcome,
  CancelledPage,
  ConnectionStatus,
  CoreEvent,
  FireTime,
  Goods,
  HealthReport,
  Job,
  JobDraft,
  JobEdit,
  JobRun,
  LinkRequest,
  NewGoods,
  OcrAttempt,
  OcrPage,
  OcrQuery,
  OcrRequest,
  OcrStats,
  OcrSubmitted,
  Order,
  OrderActivity,
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
} from './types'

export const CORE_EVENT = 'core-event'
/** Where the outcome of a sign-in window arrives. */
export const SIGNIN_RESULT_EVENT = 'signin-result'
/** Where the shell sends the console's mode and link whenever the link changes. */
export const CONNECTION_EVENT = 'connection-state'

/** True when running inside the Tauri WebView (its IPC bridge is present). */
export function isTauriRuntime(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window
}

/** Who hears of refusals for who is asking (see `Backend.onRefused`). */
const refusedListeners = new Set<(e: BackendError) => void>()

/** The codes of a refusal for who is asking, as opposed to what was asked. */
export const REFUSED_CODES: readonly string[] = ['unauthenticated', 'forbidden']

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args)
  } catch (e) {
    const error = toBackendError(e)
    if (REFUSED_CODES.includes(error.code)) refusedListeners.forEach((cb) => cb(error))
    throw error
  }
}

/**
 * The app's events, one Tauri listener per event name for the backend's life, fanned out here to
 * whoever subscribes. Pages subscribe and unsubscribe as they open and close; had each done so
 * through Tauri, every `listen`/`unlisten` would leave a record in the page that is never freed
 * (tauri 2 keeps them by id), a little more memory on every page visit (issue 19, item 6).
 */
function eventHub() {
  const channels = new Map<string, { callbacks: Set<(payload: unknown) => void>; listening: Promise<unknown> }>()
  return async function subscribe<T>(event: string, cb: (payload: T) => void): Promise<() => void> {
    let channel = channels.get(event)
    if (!channel) {
      const callbacks = new Set<(payload: unknown) => void>()
      // A copy: a callback may unsubscribe (or subscribe another) while it runs.
      const listening = listen<unknown>(event, (e) => [...callbacks].forEach((f) => f(e.payload)))
      channel = { callbacks, listening }
      channels.set(event, channel)
      // A failed listen is not kept: the next subscription tries again.
      listening.catch(() => {
        if (channels.get(event) === channel) channels.delete(event)
      })
    }
    const { callbacks, listening } = channel
    try {
      await listening
    } catch (e) {
      throw toBackendError(e)
    }
    const own = (payload: unknown) => cb(payload as T)
    callbacks.add(own)
    return () => {
      callbacks.delete(own)
    }
  }
}

function orderQuery(q: OrderQuery): Record<string, unknown> {
  return {
    search: q.search ?? null,
    status: q.status ?? null,
    sort: q.sort ?? null,
    desc: q.desc ?? false,
    offset: q.offset,
    limit: q.limit,
  }
}

export function createTauriBackend(): Backend {
  const subscribe = eventHub()
  return {
    healthReport: () => call<HealthReport>('health_report'),
    appInfo: () => call<AppInfo>('app_info'),
    auditList: (q: AuditQuery) =>
      call<AuditPage>('audit_list', {
        query: {
          actor: q.actor ?? null,
          action: q.action ?? null,
          from: q.from ?? null,
          to: q.to ?? null,
          search: q.search ?? null,
          sort: q.sort ?? null,
          desc: q.desc ?? false,
          offset: q.offset ?? 0,
          limit: q.limit,
          before_id: q.before_id ?? null,
        },
      }),

    // Scheduler. Whole objects (`trigger`, `draft`, `edit`, `query`) go as one
    // argument each; their own fields stay snake_case, as serde expects.
    jobsList: () => call<Job[]>('jobs_list'),
    jobKinds: () => call<TaskKind[]>('job_kinds'),
    jobPreview: (trigger: TriggerSpec, timezone: string, count: number) =>
      call<FireTime[]>('job_preview', { trigger, timezone, count }),
    jobCreate: (draft: JobDraft) => call<Job>('job_create', { draft }),
    jobUpdate: (id: number, edit: JobEdit) => call<Job>('job_update', { id, edit }),
    jobPause: (id: number) => call<Job>('job_pause', { id }),
    jobResume: (id: number) => call<Job>('job_resume', { id }),
    jobRunNow: (id: number) => call<Job>('job_run_now', { id }),
    jobDelete: async (id: number) => {
      await call<null>('job_delete', { id })
    },
    runsList: (q: RunQuery) =>
      call<RunPage>('runs_list', {
        query: {
          job_id: q.job_id ?? null,
          outcome: q.outcome ?? null,
          from: q.from ?? null,
          to: q.to ?? null,
          sort: q.sort ?? null,
          desc: q.desc ?? false,
          offset: q.offset ?? 0,
          limit: q.limit,
          before_id: q.before_id ?? null,
        },
      }),
    runStop: (id: number) => call<JobRun>('run_stop', { id }),
    schedulerInstances: () => call<SchedulerInstance[]>('scheduler_instances'),

    // OCR queue.
    ocrSubmit: (url: string, side: Side) => call<OcrSubmitted>('ocr_submit', { url, side }),
    ocrList: (q: OcrQuery) =>
      call<OcrPage>('ocr_list', {
        query: {
          status: q.status ?? null,
          search: q.search ?? null,
          error: q.error ?? null,
          from: q.from ?? null,
          to: q.to ?? null,
          sort: q.sort ?? null,
          desc: q.desc ?? false,
          offset: q.offset,
          limit: q.limit,
        },
      }),
    ocrGet: (id: number) => call<OcrRequest>('ocr_get', { id }),
    ocrReveal: (id: number) => call<RevealedIdCard>('ocr_reveal', { id }),
    ocrRetry: (ids: number[]) => call<RetryOutcome>('ocr_retry', { ids }),
    ocrCancel: (ids: number[]) => call<CancelOutcome>('ocr_cancel', { ids }),
    ocrAttempts: (id: number) => call<OcrAttempt[]>('ocr_attempts', { id }),
    ocrPurgeDead: () => call<number>('ocr_purge_dead'),
    ocrSetCap: (cap: number) => call<OcrStats>('ocr_set_cap', { cap }),
    ocrPause: () => call<OcrStats>('ocr_pause'),
    ocrResume: () => call<OcrStats>('ocr_resume'),
    ocrStats: () => call<OcrStats>('ocr_stats'),

    // Orders. `orderNo` reaches Rust as `order_no`.
    ordersList: (q: OrderQuery) => call<OrderPage>('orders_list', { query: orderQuery(q) }),
    cancelledList: (q: OrderQuery) => call<CancelledPage>('cancelled_list', { query: orderQuery(q) }),
    orderTimeline: (orderNo: string) => call<OrderEvent[]>('order_timeline', { orderNo }),
    ordersSummary: () => call<OrdersSummary>('orders_summary'),
    ordersActivity: (minutes: number) => call<OrderActivity[]>('orders_activity', { minutes }),
    overview: () => call<Overview>('overview'),
    orderCancel: async (orderNo: string, reason: string) => {
      await call<null>('order_cancel', { orderNo, reason })
    },
    orderCheckPayment: (orderNo: string) => call<boolean>('order_check_payment', { orderNo }),
    goodsList: () => call<Goods[]>('goods_list'),
    goodsCreate: (goods: NewGoods) => call<Goods>('goods_create', { goods }),
    orderPlace: (draft: OrderDraft) => call<Order>('order_place', { draft }),

    // Staff sign-in and accounts. `userId` and `linkId` reach Rust as `user_id` and `link_id`.
    authProviders: () => call<ProviderInfo[]>('auth_providers'),
    authSession: () => call<Staff | null>('auth_session'),
    signIn: async (provider: ProviderKey) => {
      await call<null>('sign_in', { provider })
    },
    signInCancel: async () => {
      await call<null>('sign_in_cancel')
    },
    signOut: async () => {
      await call<null>('sign_out')
    },
    usersList: (q: UserQuery) =>
      call<UserPage>('users_list', {
        query: { search: q.search ?? null, sort: q.sort ?? null, desc: q.desc ?? false, offset: q.offset, limit: q.limit },
      }),
    linkStart: async (userId: number, provider: ProviderKey) => {
      await call<null>('link_start', { userId, provider })
    },
    unlink: (linkId: number) => call<UserView>('unlink', { linkId }),
    staffSetRole: (userId: number, role: Role | null) => call<UserView>('staff_set_role', { userId, role }),
    linkRequestsList: () => call<LinkRequest[]>('link_requests_list'),
    linkRequestResolve: (id: number, accept: boolean) => call<UserView | null>('link_request_resolve', { id, accept }),
    onSignInResult: (cb: (r: SignInResult) => void) => subscribe(SIGNIN_RESULT_EVENT, cb),
    sessionsList: () => call<SessionView[]>('sessions_list'),
    sessionRevoke: async (id: number) => {
      await call<null>('session_revoke', { id })
    },

    // Where the console works. `serverUrl` reaches Rust as `server_url`.
    connectionStatus: () => call<ConnectionStatus>('connection_status'),
    onConnectionState: (cb: (s: ConnectionStatus) => void) => subscribe(CONNECTION_EVENT, cb),
    serverChoose: async (serverUrl: string | null) => {
      await call<null>('server_choose', { serverUrl })
    },

    onCoreEvent: (cb: (e: CoreEvent) => void) => subscribe(CORE_EVENT, cb),
    onRefused: (cb: (e: BackendError) => void) => {
      refusedListeners.add(cb)
      return () => {
        refusedListeners.delete(cb)
      }
    },
  }
}
