// An in-memory Backend for tests only: canned answers, recorded calls, and a
// way to push core events to whoever subscribed.
import type { App } from 'vue'
import { createPinia, type Pinia } from 'pinia'
import {
  provideBackend,
  toBackendError,
  type AppInfo,
  type AuditPage,
  type AuditQuery,
  type Backend,
  type BackendError,
  type CancelledOrder,
  type CancelledPage,
  type ComponentHealth,
  type CoreEvent,
  type FireTime,
  type Goods,
  type HealthReport,
  type Job,
  type JobDraft,
  type JobEdit,
  type JobRun,
  type IdCard,
  type LinkRequest,
  type LinkView,
  type NewGoods,
  type OcrCallSample,
  type OcrPage,
  type OcrQuery,
  type OcrRequest,
  type OcrStats,
  type OcrSubmitted,
  type Order,
  type OrderDraft,
  type OrderEvent,
  type OrderPage,
  type OrderQuery,
  type OrdersSummary,
  type Overview,
  type ProviderInfo,
  type ProviderKey,
  type RetryOutcome,
  type RevealedIdCard,
  type Role,
  type RunPage,
  type RunQuery,
  type SchedulerInstance,
  type Side,
  type SignInResult,
  type Staff,
  type TaskKind,
  type TriggerSpec,
  type UserPage,
  type UserQuery,
  type UserView,
} from '../backend'

type Listener = (e: CoreEvent) => void
type SignInListener = (r: SignInResult) => void

/** The core's scheduler commands, by their Tauri names. */
export type SchedulerCommand =
  | 'jobs_list'
  | 'job_kinds'
  | 'job_preview'
  | 'job_create'
  | 'job_update'
  | 'job_pause'
  | 'job_resume'
  | 'job_run_now'
  | 'job_delete'
  | 'runs_list'
  | 'scheduler_instances'

/** The core's OCR queue commands, by their Tauri names. */
export type OcrCommand =
  | 'ocr_submit'
  | 'ocr_list'
  | 'ocr_get'
  | 'ocr_reveal'
  | 'ocr_retry'
  | 'ocr_purge_dead'
  | 'ocr_set_cap'
  | 'ocr_pause'
  | 'ocr_resume'
  | 'ocr_stats'

/** The core's orders commands, by their Tauri names. */
export type OrdersCommand =
  | 'orders_list'
  | 'cancelled_list'
  | 'order_timeline'
  | 'orders_summary'
  | 'order_cancel'
  | 'order_check_payment'
  | 'goods_list'
  | 'goods_create'
  | 'order_place'

/** The core's sign-in and accounts commands, by their Tauri names. */
export type AccountsCommand =
  | 'auth_providers'
  | 'auth_session'
  | 'sign_in'
  | 'sign_in_cancel'
  | 'sign_out'
  | 'users_list'
  | 'link_start'
  | 'unlink'
  | 'staff_set_role'
  | 'link_requests_list'
  | 'link_request_resolve'

/** The Overview page's command. */
export type OverviewCommand = 'overview'

export type Command = SchedulerCommand | OcrCommand | OrdersCommand | AccountsCommand | OverviewCommand

/** The commands that act (rather than read), with what the core says a viewer cannot do. */
const ACTIONS: Partial<Record<Command, string>> = {
  job_create: 'add jobs',
  job_update: 'edit jobs',
  job_pause: 'pause jobs',
  job_resume: 'resume jobs',
  job_run_now: 'run jobs',
  job_delete: 'delete jobs',
  ocr_submit: 'queue OCR requests',
  ocr_reveal: 'reveal ID numbers',
  ocr_retry: 'retry OCR requests',
  ocr_purge_dead: 'purge OCR requests',
  ocr_set_cap: 'change the OCR cap',
  ocr_pause: 'pause the OCR queue',
  ocr_resume: 'resume the OCR queue',
  order_cancel: 'cancel orders',
  order_check_payment: 'check payments',
  goods_create: 'add goods',
  order_place: 'place orders',
  link_start: 'link sign-in methods',
  unlink: 'unlink sign-in methods',
  link_request_resolve: 'resolve link requests',
}

/** Who the fake core names for actions from the window. */
export const FAKE_ACTOR = 'tester@desktop'

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T))

export class FakeBackend implements Backend {
  /** What healthReport() answers; an Error/object/string makes it reject with that. */
  health: HealthReport | { reject: unknown } = report()
  info: AppInfo | { reject: unknown } = appInfo()
  /** Answers auditList(); receives the query as the UI passed it. */
  audit: (q: AuditQuery) => AuditPage | { reject: unknown } = () => ({ entries: [], next_before_id: null })

  readonly auditCalls: AuditQuery[] = []

  // ---- scheduler ----
  /** The core's jobs; the job actions change them as the core would. */
  jobs: Job[] = []
  kinds: TaskKind[] = [taskKind()]
  instances: SchedulerInstance[] = [schedulerInstance()]
  /** Answers jobPreview(). */
  preview: (trigger: TriggerSpec, timezone: string, count: number) => FireTime[] | { reject: unknown } = () => [
    fireTime('2026-12-05T08:00:00+08:00'),
  ]
  /** Answers runsList(); receives the query as the UI passed it. */
  runs: (q: RunQuery) => RunPage | { reject: unknown } = () => ({ runs: [], next_before_id: null })

  // ---- OCR queue ----
  /** The core's OCR requests (ID numbers masked); the OCR actions change them as the core would. */
  ocrRequests: OcrRequest[] = []
  /** The live figures ocrStats() answers; the cap and pause actions change them. */
  ocrFigures: OcrStats = ocrStats()
  /** The cards in full ocrReveal() answers, by request id. */
  revealedCards: Record<number, RevealedIdCard> = {}

  // ---- orders ----
  /** Pending and paid orders; the order actions change them as the core would. */
  orders: Order[] = []
  cancelledOrders: CancelledOrder[] = []
  goods: Goods[] = []
  /** Each order's events, by order number; the actions append to them. */
  timelines: Record<string, OrderEvent[]> = {}
  /** Orders Alipay says are paid: a check finds them paid, a cancel is refused (and marks them paid). */
  paidAtAlipay = new Set<string>()
  /** How long a placed order has until it expires. */
  orderExpirySeconds = 1800
  ordersSandbox = false

  // ---- sign-in and accounts ----
  /** Who is signed in (what authSession() answers): an admin unless a test says otherwise. */
  session: Staff | null = staffMember()
  providers: ProviderInfo[] = PROVIDER_KEYS.map((key) => providerInfo({ key }))
  /** The users; the account actions change them as the core would. */
  users: UserView[] = []
  linkRequests: LinkRequest[] = []
  /** The sign-in window the console opened (by signIn or linkStart); null when none is open. */
  signInWindow: { provider: ProviderKey; userId: number | null } | null = null

  /** Makes a command reject with the given value instead of answering. */
  failures: Partial<Record<Command, unknown>> = {}
  /** Every command but health and app info, with its arguments as the Tauri backend would pass them. */
  readonly calls: { cmd: Command; args?: unknown }[] = []
  healthCalls = 0
  appInfoCalls = 0
  subscribeCalls = 0
  unlistenCalls = 0
  private readonly listeners = new Set<Listener>()
  private readonly signInListeners = new Set<SignInListener>()
  private readonly refusedListeners = new Set<(e: BackendError) => void>()

  get listenerCount(): number {
    return this.listeners.size
  }

  get signInListenerCount(): number {
    return this.signInListeners.size
  }

  /** Delivers a sign-in window's outcome to every current subscriber, as the core would. */
  pushSignIn(r: SignInResult): void {
    if (r.status === 'signed_in') this.session = clone(r.staff)
    this.signInWindow = null
    for (const l of [...this.signInListeners]) l(r)
  }

  /** Delivers an event to every current subscriber, as the core would. */
  push(e: CoreEvent): void {
    for (const l of [...this.listeners]) l(e)
  }

  async healthReport(): Promise<HealthReport> {
    this.healthCalls++
    return answer(this.health)
  }

  async appInfo(): Promise<AppInfo> {
    this.appInfoCalls++
    return answer(this.info)
  }

  async auditList(q: AuditQuery): Promise<AuditPage> {
    this.auditCalls.push({ ...q })
    return answer(this.audit(q))
  }

  /** The arguments of each call to `cmd`, in order. */
  callsTo(cmd: Command): unknown[] {
    return this.calls.filter((c) => c.cmd === cmd).map((c) => c.args)
  }

  private record(cmd: Command, args?: unknown): void {
    this.calls.push(args === undefined ? { cmd } : { cmd, args: clone(args) })
    try {
      if (cmd in this.failures) throw this.failures[cmd]
      this.authorise(cmd)
    } catch (e) {
      // As the Tauri backend does: a refusal for who is asking is told to onRefused's listeners.
      const error = toBackendError(e)
      if (error.code === 'unauthenticated' || error.code === 'forbidden') this.refusedListeners.forEach((cb) => cb(error))
      throw e
    }
  }

  /** Refuses actions as the core does: without a session, and to viewers (roles to non-admins). */
  private authorise(cmd: Command): void {
    const action = cmd === 'staff_set_role' ? 'change roles' : ACTIONS[cmd]
    if (action === undefined) return
    const role = this.session?.role
    if (role === undefined) throw { code: 'unauthenticated', message: 'sign in first' }
    if (role === 'viewer' || (cmd === 'staff_set_role' && role !== 'admin')) {
      throw { code: 'forbidden', message: `${role === 'viewer' ? 'a viewer' : 'an operator'} cannot ${action}` }
    }
  }

  private find(id: number): Job {
    const job = this.jobs.find((j) => j.id === id)
    if (!job) throw { code: 'not_found', message: `no job ${id}` }
    return job
  }

  async jobsList(): Promise<Job[]> {
    this.record('jobs_list')
    return clone(this.jobs)
  }

  async jobKinds(): Promise<TaskKind[]> {
    this.record('job_kinds')
    return clone(this.kinds)
  }

  async jobPreview(trigger: TriggerSpec, timezone: string, count: number): Promise<FireTime[]> {
    this.record('job_preview', { trigger, timezone, count })
    return answer(this.preview(clone(trigger), timezone, count))
  }

  async jobCreate(draft: JobDraft): Promise<Job> {
    this.record('job_create', { draft })
    const created = job({
      ...clone(draft),
      id: Math.max(0, ...this.jobs.map((j) => j.id)) + 1,
      trigger_text: triggerText(draft.trigger),
      origin: 'staff',
      next_fires: [],
    })
    this.jobs.push(created)
    return clone(created)
  }

  async jobUpdate(id: number, edit: JobEdit): Promise<Job> {
    this.record('job_update', { id, edit })
    const j = this.find(id)
    Object.assign(j, clone(edit), { trigger_text: triggerText(edit.trigger) })
    return clone(j)
  }

  async jobPause(id: number): Promise<Job> {
    this.record('job_pause', { id })
    const j = this.find(id)
    j.paused = true
    return clone(j)
  }

  async jobResume(id: number): Promise<Job> {
    this.record('job_resume', { id })
    const j = this.find(id)
    j.paused = false
    return clone(j)
  }

  async jobRunNow(id: number): Promise<Job> {
    this.record('job_run_now', { id })
    return clone(this.find(id))
  }

  async jobDelete(id: number): Promise<void> {
    this.record('job_delete', { id })
    if (this.find(id).origin !== 'staff') throw { code: 'forbidden', message: 'only staff jobs can be deleted' }
    this.jobs = this.jobs.filter((j) => j.id !== id)
  }

  async runsList(q: RunQuery): Promise<RunPage> {
    this.record('runs_list', { query: q })
    return answer(this.runs(clone(q)))
  }

  async schedulerInstances(): Promise<SchedulerInstance[]> {
    this.record('scheduler_instances')
    return clone(this.instances)
  }

  // ---- OCR queue ----

  private ocrFind(id: number): OcrRequest {
    const r = this.ocrRequests.find((x) => x.id === id)
    if (!r) throw { code: 'not_found', message: `no OCR request ${id}` }
    return r
  }

  async ocrSubmit(url: string, side: Side): Promise<OcrSubmitted> {
    this.record('ocr_submit', { url, side })
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url.trim())?.[1]?.toLowerCase()
    if (scheme !== 'http' && scheme !== 'https') {
      throw {
        code: 'invalid_input',
        field: 'url',
        message: scheme
          ? `only http and https image URLs can be recognised, not ${scheme}:`
          : 'not a URL: relative URL without a base',
      }
    }
    const known = this.ocrRequests.find((r) => r.url === url.trim())
    if (known) return { request_id: known.id, status: known.status, existing: true, result: null }
    const created = ocrRequest({ id: Math.max(0, ...this.ocrRequests.map((r) => r.id)) + 1, url: url.trim(), side })
    this.ocrRequests.push(created)
    this.ocrFigures.counts.pending++
    return { request_id: created.id, status: 'pending', existing: false, result: null }
  }

  async ocrList(q: OcrQuery): Promise<OcrPage> {
    this.record('ocr_list', { query: q })
    const matching = this.ocrRequests
      .filter((r) => (q.status ?? null) === null || r.status === q.status)
      .filter((r) => !q.search || r.url.includes(q.search))
      .sort((a, b) => b.id - a.id)
    return { requests: clone(matching.slice(q.offset, q.offset + q.limit)), total: matching.length }
  }

  async ocrGet(id: number): Promise<OcrRequest> {
    this.record('ocr_get', { id })
    return clone(this.ocrFind(id))
  }

  async ocrReveal(id: number): Promise<RevealedIdCard> {
    this.record('ocr_reveal', { id })
    const r = this.ocrFind(id)
    const card = this.revealedCards[id]
    if (r.result?.fields.side !== 'front' || card === undefined) {
      throw { code: 'invalid_input', message: `request ${id} has no result yet` }
    }
    return clone(card)
  }

  async ocrRetry(ids: number[]): Promise<RetryOutcome> {
    this.record('ocr_retry', { ids })
    let retried = 0
    for (const id of new Set(ids)) {
      const r = this.ocrRequests.find((x) => x.id === id)
      if (r?.status !== 'dead') continue
      Object.assign(r, { status: 'pending', attempts: 0, error: null, error_code: null, finished_at: null })
      retried++
    }
    return { retried, skipped: new Set(ids).size - retried }
  }

  async ocrPurgeDead(): Promise<number> {
    this.record('ocr_purge_dead')
    const before = this.ocrRequests.length
    this.ocrRequests = this.ocrRequests.filter((r) => r.status !== 'dead')
    this.ocrFigures.counts.dead = 0
    return before - this.ocrRequests.length
  }

  async ocrSetCap(cap: number): Promise<OcrStats> {
    this.record('ocr_set_cap', { cap })
    if (!(cap >= 0.1 && cap <= 1000)) {
      throw { code: 'invalid_input', field: 'cap', message: 'the cap must be between 0.1 and 1000 calls per second' }
    }
    Object.assign(this.ocrFigures, { cap, cap_source: 'console' })
    return clone(this.ocrFigures)
  }

  async ocrPause(): Promise<OcrStats> {
    this.record('ocr_pause')
    this.ocrFigures.pause = { kind: 'manual', reason: 'paused by tester@desktop', since: '2026-01-10T02:00:00Z', until: null }
    return clone(this.ocrFigures)
  }

  async ocrResume(): Promise<OcrStats> {
    this.record('ocr_resume')
    this.ocrFigures.pause = null
    return clone(this.ocrFigures)
  }

  async ocrStats(): Promise<OcrStats> {
    this.record('ocr_stats')
    return clone(this.ocrFigures)
  }

  // ---- orders ----

  private pendingOrder(orderNo: string): Order {
    const order = this.orders.find((o) => o.order_no === orderNo)
    if (!order) throw { code: 'not_found', message: `no pending or paid order ${orderNo}` }
    return order
  }

  private event(orderNo: string, event: OrderEvent['event'], detail: unknown, who: string): void {
    ;(this.timelines[orderNo] ??= []).push({ at: new Date().toISOString(), event, detail, who, run_key: null })
  }

  private markPaid(order: Order, who: string): void {
    order.status = 'paid'
    order.paid_at = new Date().toISOString()
    order.trade_no = '2026000000000000000000000001'
    for (const item of order.items) {
      const g = this.goods.find((x) => x.id === item.goods_id)
      if (g) Object.assign(g, { stock_locked: g.stock_locked - item.quantity, stock_sold: g.stock_sold + item.quantity })
    }
    this.event(order.order_no, 'paid', { trade_no: order.trade_no }, who)
  }

  async ordersList(q: OrderQuery): Promise<OrderPage> {
    this.record('orders_list', { query: q })
    const matching = this.orders
      .filter((o) => (q.status ?? null) === null || o.status === q.status)
      .filter((o) => !q.search || o.order_no === q.search || String(o.user_id) === q.search)
      .sort((a, b) => Date.parse(a.expires_at) - Date.parse(b.expires_at) || a.id - b.id)
    return { orders: clone(matching.slice(q.offset, q.offset + q.limit)), total: matching.length }
  }

  async cancelledList(q: OrderQuery): Promise<CancelledPage> {
    this.record('cancelled_list', { query: q })
    const matching = this.cancelledOrders
      .filter((o) => !q.search || o.order_no === q.search || String(o.user_id) === q.search)
      .sort((a, b) => Date.parse(b.cancelled_at) - Date.parse(a.cancelled_at) || b.order_id - a.order_id)
    return { orders: clone(matching.slice(q.offset, q.offset + q.limit)), total: matching.length }
  }

  async orderTimeline(orderNo: string): Promise<OrderEvent[]> {
    this.record('order_timeline', { orderNo })
    return clone(this.timelines[orderNo] ?? [])
  }

  /** What `overview()` answers (a test sets it, or `{ reject }`). */
  overviewData: Overview | { reject: unknown } = overview()

  async overview(): Promise<Overview> {
    this.record('overview')
    const data = this.overviewData
    if ('reject' in data) throw data.reject
    return clone(data)
  }

  async ordersSummary(): Promise<OrdersSummary> {
    this.record('orders_summary')
    const pending = this.orders.filter((o) => o.status === 'pending')
    const soon = Date.now() + 5 * 60_000
    return {
      pending: pending.length,
      expiring_soon: pending.filter((o) => Date.parse(o.expires_at) <= soon).length,
      sandbox: this.ordersSandbox,
    }
  }

  async orderCancel(orderNo: string, reason: string): Promise<void> {
    this.record('order_cancel', { orderNo, reason })
    if (reason.trim() === '') throw { code: 'invalid_input', field: 'reason', message: 'say why (1–500 characters)' }
    const order = this.pendingOrder(orderNo)
    if (order.status !== 'pending') throw { code: 'forbidden', message: `${orderNo} is no longer pending` }
    if (this.paidAtAlipay.has(orderNo)) {
      this.markPaid(order, FAKE_ACTOR)
      throw { code: 'forbidden', message: `Alipay says ${orderNo} is paid: it was marked paid, not cancelled` }
    }
    this.orders = this.orders.filter((o) => o !== order)
    for (const item of order.items) {
      const g = this.goods.find((x) => x.id === item.goods_id)
      if (g) Object.assign(g, { stock_locked: g.stock_locked - item.quantity, stock_available: g.stock_available + item.quantity })
    }
    this.cancelledOrders.push(
      cancelledOrder({ ...order, order_id: order.id, cancelled_at: new Date().toISOString(), reason: reason.trim(), cancelled_by: FAKE_ACTOR }),
    )
    this.event(orderNo, 'cancelled', { reason: reason.trim() }, FAKE_ACTOR)
  }

  async orderCheckPayment(orderNo: string): Promise<boolean> {
    this.record('order_check_payment', { orderNo })
    const order = this.pendingOrder(orderNo)
    const paid = this.paidAtAlipay.has(orderNo)
    this.event(orderNo, 'queried', { trade_status: paid ? 'TRADE_SUCCESS' : 'TRADE_NOT_EXIST' }, FAKE_ACTOR)
    if (paid && order.status === 'pending') this.markPaid(order, FAKE_ACTOR)
    return paid
  }

  async goodsList(): Promise<Goods[]> {
    this.record('goods_list')
    return clone(this.goods)
  }

  async goodsCreate(draft: NewGoods): Promise<Goods> {
    this.record('goods_create', { goods: draft })
    const sku = draft.sku.trim()
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(sku)) {
      throw { code: 'invalid_input', field: 'sku', message: "use 1–64 letters, digits, '-', '_' or '.'" }
    }
    if (this.goods.some((g) => g.sku === sku)) {
      throw { code: 'invalid_input', field: 'sku', message: `a good with sku "${sku}" exists` }
    }
    if (draft.name.trim() === '') throw { code: 'invalid_input', field: 'name', message: 'a name of 1–191 characters' }
    if (!(draft.price_fen >= 1)) throw { code: 'invalid_input', field: 'price_fen', message: 'the price must be positive (in fen)' }
    const created = goods({
      id: Math.max(0, ...this.goods.map((g) => g.id)) + 1,
      sku,
      name: draft.name.trim(),
      price_fen: draft.price_fen,
      stock_available: draft.stock,
    })
    this.goods.push(created)
    return clone(created)
  }

  async orderPlace(draft: OrderDraft): Promise<Order> {
    this.record('order_place', { draft })
    if (!(draft.user_id > 0)) throw { code: 'invalid_input', field: 'user_id', message: 'a user id is a positive number' }
    let amount = 0
    const items = draft.items.map((item) => {
      const g = this.goods.find((x) => x.id === item.goods_id)
      if (!g) throw { code: 'invalid_input', field: 'items', message: `no goods ${item.goods_id}` }
      if (g.stock_available < item.quantity) {
        throw {
          code: 'invalid_input',
          field: 'items',
          message: `not enough ${g.name} (goods ${g.id}): ${item.quantity} wanted, ${g.stock_available} available`,
        }
      }
      amount += g.price_fen * item.quantity
      return { ...item, price_fen: g.price_fen }
    })
    for (const item of items) {
      const g = this.goods.find((x) => x.id === item.goods_id)!
      Object.assign(g, { stock_available: g.stock_available - item.quantity, stock_locked: g.stock_locked + item.quantity })
    }
    const id = Math.max(0, ...this.orders.map((o) => o.id), ...this.cancelledOrders.map((o) => o.order_id)) + 1
    const now = Date.now()
    const placed = order({
      id,
      order_no: `OD20260110020000${String(id).padStart(8, '0')}`,
      user_id: draft.user_id,
      kind: draft.kind,
      amount_fen: draft.kind === 'top_up' ? (draft.amount_fen ?? 0) : amount,
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + this.orderExpirySeconds * 1000).toISOString(),
      items,
    })
    this.orders.push(placed)
    this.event(placed.order_no, 'placed', { amount_fen: placed.amount_fen }, 'shop')
    return clone(placed)
  }

  // ---- sign-in and accounts ----

  private user(id: number): UserView {
    const user = this.users.find((u) => u.id === id)
    if (!user) throw { code: 'not_found', message: `no user ${id}` }
    return user
  }

  async authProviders(): Promise<ProviderInfo[]> {
    this.record('auth_providers')
    return clone(this.providers)
  }

  async authSession(): Promise<Staff | null> {
    this.record('auth_session')
    return clone(this.session)
  }

  async signIn(provider: ProviderKey): Promise<void> {
    this.record('sign_in', { provider })
    this.signInWindow = { provider, userId: null }
  }

  /** Closes the window; the core then reports the sign-in cancelled. */
  async signInCancel(): Promise<void> {
    this.record('sign_in_cancel')
    if (this.signInWindow) this.pushSignIn({ status: 'cancelled' })
  }

  async signOut(): Promise<void> {
    this.record('sign_out')
    this.session = null
  }

  async usersList(q: UserQuery): Promise<UserPage> {
    this.record('users_list', { query: q })
    const search = q.search ?? ''
    const matching = this.users
      .filter((u) => search === '' || u.username.includes(search) || (u.mobile_masked ?? '').includes(search))
      .sort((a, b) => a.id - b.id)
    return { users: clone(matching.slice(q.offset, q.offset + q.limit)), total: matching.length }
  }

  async linkStart(userId: number, provider: ProviderKey): Promise<void> {
    this.record('link_start', { userId, provider })
    this.user(userId)
    this.signInWindow = { provider, userId }
  }

  async unlink(linkId: number): Promise<UserView> {
    this.record('unlink', { linkId })
    const user = this.users.find((u) => u.links.some((l) => l.id === linkId))
    if (!user) throw { code: 'not_found', message: `no link ${linkId}` }
    if (user.links.length === 1) {
      throw { code: 'invalid_input', message: `${user.username}'s last sign-in method cannot be unlinked` }
    }
    user.links = user.links.filter((l) => l.id !== linkId)
    return clone(user)
  }

  async staffSetRole(userId: number, role: Role | null): Promise<UserView> {
    this.record('staff_set_role', { userId, role })
    const user = this.user(userId)
    user.role = role
    if (this.session?.user_id === userId) this.session = role === null ? null : { ...this.session, role }
    return clone(user)
  }

  async linkRequestsList(): Promise<LinkRequest[]> {
    this.record('link_requests_list')
    return clone(this.linkRequests)
  }

  async linkRequestResolve(id: number, accept: boolean): Promise<UserView | null> {
    this.record('link_request_resolve', { id, accept })
    const request = this.linkRequests.find((r) => r.id === id)
    if (!request) throw { code: 'not_found', message: `no link request ${id}` }
    this.linkRequests = this.linkRequests.filter((r) => r !== request)
    if (!accept) return null
    const user = this.user(request.user_id)
    const linkId = Math.max(0, ...this.users.flatMap((u) => u.links.map((l) => l.id))) + 1
    user.links.push(
      linkView({
        id: linkId,
        provider: request.provider,
        uid_masked: request.uid_masked,
        nickname: request.nickname,
        linked_at: new Date().toISOString(),
        last_sign_in_at: null,
      }),
    )
    return clone(user)
  }

  onRefused(cb: (e: BackendError) => void): () => void {
    this.refusedListeners.add(cb)
    return () => {
      this.refusedListeners.delete(cb)
    }
  }

  async onSignInResult(cb: SignInListener): Promise<() => void> {
    this.signInListeners.add(cb)
    return () => {
      this.signInListeners.delete(cb)
    }
  }

  async onCoreEvent(cb: Listener): Promise<() => void> {
    this.subscribeCalls++
    this.listeners.add(cb)
    let done = false
    return () => {
      if (done) return
      done = true
      this.unlistenCalls++
      this.listeners.delete(cb)
    }
  }
}

function answer<T>(v: T | { reject: unknown }): T {
  if (typeof v === 'object' && v !== null && 'reject' in v) throw v.reject
  return v as T
}

export function component(overrides: Partial<ComponentHealth> = {}): ComponentHealth {
  return { status: 'ok', reason: null, latency_ms: 3, target: 'sqlite:///var/lib/opsdeck/opsdeck.db', ...overrides }
}

export function report(overrides: Partial<HealthReport> = {}): HealthReport {
  return {
    database: component(),
    redis: component({ latency_ms: 1, target: 'redis://:***@127.0.0.1:6379/0' }),
    checked_at: '2025-01-15T10:00:00Z',
    ...overrides,
  }
}

export function appInfo(overrides: Partial<AppInfo> = {}): AppInfo {
  return {
    version: '0.1.0',
    instance_id: 'inst-7f3a',
    timezone: 'Europe/Berlin',
    redis_prefix: 'opsdeck:',
    database_backend: 'sqlite',
    data_dir: '/var/lib/opsdeck',
    sandbox: false,
    providers: [
      { name: 'baidu', state: 'configured', keys: ['baidu_api_key', 'baidu_secret_key'] },
      { name: 'alipay', state: 'absent', keys: ['alipay_app_id', 'alipay_private_key', 'alipay_public_key'] },
    ],
    ...overrides,
  }
}

function triggerText(t: TriggerSpec): string {
  switch (t.type) {
    case 'interval':
      return `every ${t.every_seconds} seconds`
    case 'date':
      return `once at ${t.at.replace('T', ' ')}`
    case 'cron':
      return `cron ${t.expr}`
  }
}

export function fireTime(at: string, dst: FireTime['dst'] = null): FireTime {
  return { at, dst }
}

export function job(overrides: Partial<Job> = {}): Job {
  return {
    id: 1,
    name: 'cleanup',
    kind: 'cleanup_sessions',
    trigger: { type: 'interval', every_seconds: 600, start: null, end: null },
    trigger_text: 'every 10 minutes',
    timezone: 'Asia/Shanghai',
    args: {},
    policy: { misfire_grace_seconds: 60, coalesce: true, max_instances: 1, jitter_seconds: 0, timeout_seconds: null },
    paused: false,
    origin: 'staff',
    next_fires: [fireTime('2026-01-10T10:10:00+08:00'), fireTime('2026-01-10T10:20:00+08:00')],
    last_run: null,
    ...overrides,
  }
}

export function jobRun(overrides: Partial<JobRun> = {}): JobRun {
  return {
    id: 1,
    job_id: 1,
    job_name: 'cleanup',
    scheduled_at: '2026-01-10T02:00:00Z',
    started_at: '2026-01-10T02:00:00.120Z',
    finished_at: '2026-01-10T02:00:01.370Z',
    duration_ms: 1250,
    outcome: 'ok',
    instance: 'inst-7f3a',
    summary: null,
    error: null,
    ...overrides,
  }
}

export function taskKind(overrides: Partial<TaskKind> = {}): TaskKind {
  return {
    name: 'cleanup_sessions',
    description: 'Deletes expired sessions.',
    args_example: { older_than_days: 30 },
    ...overrides,
  }
}

export function schedulerInstance(overrides: Partial<SchedulerInstance> = {}): SchedulerInstance {
  return {
    id: 'inst-7f3a',
    started_at: '2026-01-10T01:00:00Z',
    last_seen: '2026-01-10T02:00:05Z',
    is_self: true,
    runs_in_progress: 0,
    ...overrides,
  }
}

/** A recognised portrait side as the core hands it out: masked as a whole. */
export function idCardFront(idNumber = '3201**********1234'): IdCard {
  return {
    fields: {
      side: 'front',
      name: '张*',
      id_number: idNumber,
      gender: '男',
      nation: '汉',
      birth_date: '********',
      address: '江苏省南京市****',
    },
    image_status: 'normal',
    risk_type: 'normal',
    idcard_number_type: 1,
    log_id: '1752224492569240506',
  }
}

export function ocrRequest(overrides: Partial<OcrRequest> = {}): OcrRequest {
  return {
    id: 1,
    url: 'https://img.example.com/card-1.jpg',
    side: 'front',
    status: 'pending',
    attempts: 0,
    created_at: '2026-01-10T02:00:00Z',
    updated_at: '2026-01-10T02:00:00Z',
    next_attempt_at: null,
    finished_at: null,
    error: null,
    error_code: null,
    result: null,
    instance: null,
    ...overrides,
  }
}

/** Sixty one-second samples ending at 2026-01-10T02:00:59Z, `calls` each (or per second from a function). */
export function callSamples(calls: number | ((i: number) => number) = 0): OcrCallSample[] {
  const start = Date.parse('2026-01-10T02:00:00Z')
  return Array.from({ length: 60 }, (_, i) => ({
    at: new Date(start + i * 1000).toISOString().replace('.000Z', 'Z'),
    calls: typeof calls === 'number' ? calls : calls(i),
  }))
}

export function ocrStats(overrides: Partial<OcrStats> = {}): OcrStats {
  return {
    counts: { pending: 0, in_flight: 0, done: 0, dead: 0 },
    cap: 2,
    cap_source: 'config',
    calls: callSamples(),
    drain_seconds: null,
    pause: null,
    sandbox: false,
    ...overrides,
  }
}

export function order(overrides: Partial<Order> = {}): Order {
  return {
    id: 1,
    order_no: 'OD2026011002000000000001',
    user_id: 10086,
    kind: 'goods',
    amount_fen: 3750,
    status: 'pending',
    created_at: '2026-01-10T02:00:00Z',
    expires_at: '2026-01-10T02:30:00Z',
    paid_at: null,
    trade_no: null,
    items: [{ goods_id: 1, quantity: 3, price_fen: 1250 }],
    alipay_time_expire: '2026-01-10 10:29:00',
    ...overrides,
  }
}

export function cancelledOrder(overrides: Partial<CancelledOrder> = {}): CancelledOrder {
  const { id: _id, status: _status, paid_at: _paid, trade_no: _trade, items: _items, ...rest } = overrides as Partial<
    CancelledOrder & Order
  >
  return {
    order_id: 1,
    order_no: 'OD2026011002000000000001',
    user_id: 10086,
    kind: 'goods',
    amount_fen: 3750,
    created_at: '2026-01-10T02:00:00Z',
    expires_at: '2026-01-10T02:30:00Z',
    cancelled_at: '2026-01-10T02:30:04Z',
    reason: 'unpaid 30 minutes after it was placed',
    cancelled_by: 'sweep',
    ...rest,
  }
}

export function goods(overrides: Partial<Goods> = {}): Goods {
  return {
    id: 1,
    sku: 'MUG-1',
    name: 'Tea mug',
    price_fen: 1250,
    stock_available: 10,
    stock_locked: 0,
    stock_sold: 0,
    ...overrides,
  }
}

export function orderEvent(overrides: Partial<OrderEvent> = {}): OrderEvent {
  return { at: '2026-01-10T02:00:00Z', event: 'placed', detail: { amount_fen: 3750 }, who: 'shop', run_key: null, ...overrides }
}

export const PROVIDER_KEYS: readonly ProviderKey[] = ['weibo', 'qq', 'wechat', 'dingtalk', 'oidc']

const PROVIDER_NAMES: Record<ProviderKey, string> = {
  weibo: 'Weibo',
  qq: 'QQ',
  wechat: 'WeChat',
  dingtalk: 'DingTalk',
  oidc: 'Keycloak',
}

export function providerInfo(overrides: Partial<ProviderInfo> = {}): ProviderInfo {
  const key = overrides.key ?? 'weibo'
  return { key, name: PROVIDER_NAMES[key], sandbox: true, ...overrides }
}

/** A signed-in admin, by default. */
export function staffMember(overrides: Partial<Staff> = {}): Staff {
  return {
    user_id: 1,
    name: 'Alice Admin',
    role: 'admin',
    provider: 'dingtalk',
    avatar: null,
    signed_in_at: '2026-01-10T01:00:00Z',
    ...overrides,
  }
}

export function linkView(overrides: Partial<LinkView> = {}): LinkView {
  return {
    id: 1,
    provider: 'weibo',
    uid_masked: '18****42',
    nickname: 'alice_wb',
    avatar: null,
    linked_at: '2026-01-05T08:00:00Z',
    last_sign_in_at: '2026-01-10T01:00:00Z',
    ...overrides,
  }
}

export function userView(overrides: Partial<UserView> = {}): UserView {
  return {
    id: 1,
    username: 'alice',
    nickname: 'Alice',
    mobile_masked: '138****0001',
    avatar: null,
    role: 'admin',
    created_at: '2026-01-05T08:00:00Z',
    last_sign_in_at: '2026-01-10T01:00:00Z',
    links: [linkView()],
    ...overrides,
  }
}

export function linkRequest(overrides: Partial<LinkRequest> = {}): LinkRequest {
  return {
    id: 1,
    user_id: 2,
    username: 'bob',
    provider: 'qq',
    uid_masked: 'B7****1C',
    nickname: 'bob_qq',
    mobile_masked: '139****0002',
    verified: ['mobile'],
    created_at: '2026-01-10T01:30:00Z',
    ...overrides,
  }
}

/** Plugins for test-utils' `global.plugins`: the fake backend, then a fresh Pinia. */
export function backendPlugins(backend: Backend): { pinia: Pinia; plugins: [{ install(app: App): void }, Pinia] } {
  const pinia = createPinia()
  return { pinia, plugins: [{ install: (app: App) => provideBackend(app, backend) }, pinia] }
}

/** An Overview answer; `overrides` replace whole sections. */
export function overview(overrides: Partial<Overview> = {}): Overview {
  const at = '2026-11-28T10:00:00Z'
  return {
    at,
    sandbox: false,
    ocr: {
      counts: { pending: 3, in_flight: 1, done: 40, dead: 2 },
      cap: 2,
      calls_per_second: 1.5,
      calls: [],
      history: [
        { at: '2026-11-28T09:59:00Z', depth: 6, calls_per_second: 2 },
        { at: '2026-11-28T09:59:30Z', depth: 4, calls_per_second: 1.5 },
      ],
      pause: null,
      done_last_hour: 12,
      dead_last_hour: 1,
      recent: [{ id: 41, side: 'front', status: 'done', finished_at: at }],
      sandbox: false,
    },
    orders: {
      pending: 5,
      expiring_soon: 2,
      cancelled_last_hour: 3,
      paid_last_hour: 9,
      paid_late_last_hour: 1,
      recent_cancelled: [
        { order_no: 'O20261128-0001', amount_fen: 12800, cancelled_at: at, reason: 'unpaid for 30 minutes', cancelled_by: 'sweep' },
      ],
      sandbox: false,
    },
    failures: [
      { job_id: 7, job_name: 'ping-shop', run_id: 88, outcome: 'failed', scheduled_at: at, error: 'HTTP 503 from https://shop.example/ping' },
    ],
    instances: [
      { id: 'inst-7f3a', is_self: true, started_at: at, last_seen: at, claims: [{ job_id: 2, job_name: 'order-expiry-sweep', scheduled_at: at }] },
      { id: 'inst-0b12', is_self: false, started_at: at, last_seen: at, claims: [] },
    ],
    ...overrides,
  }
}
