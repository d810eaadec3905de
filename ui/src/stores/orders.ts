import { defineStore } from 'pinia'
import { reactive, ref, type UnwrapRef } from 'vue'
import {
  toBackendError,
  useBackend,
  type BackendError,
  type CancelledOrder,
  type CoreEvent,
  type Goods,
  type NewGoods,
  type Order,
  type OrderDraft,
  type OrderEvent,
  type OrderActivity,
  type OrderQuery,
  type OrderSort,
  type OrdersSummary,
  type OrderStatus,
} from '../backend'
import { EXPIRING_SOON_MS } from '../ordersFormat'
import { coalesced } from './coalesced'
import { coreSubscription } from './coreSubscription'

export const ORDERS_PAGE_SIZE = 50
/** How often the countdowns tick (locally: the core is not asked). */
export const TICK_MS = 1000
/** The minutes the activity chart shows, the current one last. */
export const ACTIVITY_MINUTES = 60
const MINUTE_MS = 60_000

/** A list's sort as the core takes it: a column (`OrderSort`) and a direction. */
export interface OrderSortState {
  key: OrderSort
  desc: boolean
}

/** What the orders list shows: a state (null: both) and an order number or user id. */
export interface OrderFilters {
  status: OrderStatus | null
  search: string
}

export const DEFAULT_ORDER_FILTERS: Readonly<OrderFilters> = { status: 'pending', search: '' }

interface Page<T> {
  orders: T[]
  total: number
}

/**
 * One paged, filtered list of the core's (orders, or cancelled orders): the page shown, its
 * filters and sort (the core sorts: a page is a slice of the whole sorted list), and a refresh
 * that folds a burst of requests into one more fetch and drops a page that arrives for filters
 * or a sort no longer shown.
 */
function pagedList<T, F extends { search: string }>(
  fetch: (q: OrderQuery) => Promise<Page<T>>,
  initial: Readonly<F>,
  extra: (f: F) => Partial<OrderQuery>,
  onLoaded: () => void = () => {},
) {
  const list = reactive({
    rows: [] as T[],
    total: 0,
    loaded: false,
    loading: false,
    error: null as BackendError | null,
    filters: { ...initial } as F,
    /** Null: the list's own order (pending soonest to expire, paid and cancelled newest first). */
    sort: null as OrderSortState | null,
    offset: 0,
    refresh,
    setFilters,
    setSort,
    goTo,
    reset,
  })
  let generation = 0

  function query(): OrderQuery {
    const f = list.filters as F
    const q: OrderQuery = { offset: list.offset, limit: ORDERS_PAGE_SIZE, ...extra(f) }
    const search = f.search.trim()
    if (search !== '') q.search = search
    if (list.sort) {
      q.sort = list.sort.key
      q.desc = list.sort.desc
    }
    return q
  }

  const run = coalesced(async () => {
    const gen = ++generation
    list.loading = true
    try {
      const page = await fetch(query())
      if (gen !== generation) return
      // Past the end (orders left this page meanwhile): go back to the last page.
      if (page.orders.length === 0 && page.total > 0 && list.offset > 0) {
        list.offset = Math.max(0, Math.floor((page.total - 1) / ORDERS_PAGE_SIZE) * ORDERS_PAGE_SIZE)
        void run()
        return
      }
      list.rows = page.orders as UnwrapRef<T[]>
      list.total = page.total
      list.loaded = true
      list.error = null
      onLoaded()
    } catch (e) {
      if (gen === generation) list.error = toBackendError(e)
    } finally {
      if (gen === generation) list.loading = false
    }
  })

  function refresh(): Promise<void> {
    return run()
  }

  /** Shows the first page for these filters. */
  function setFilters(f: F): Promise<void> {
    list.filters = { ...f } as UnwrapRef<F>
    list.offset = 0
    generation++ // a page still on its way for the old filters is dropped
    return run()
  }

  /** Shows the first page sorted so (null: the list's own order). */
  function setSort(sort: OrderSortState | null): Promise<void> {
    list.sort = sort ? { ...sort } : null
    list.offset = 0
    generation++
    return run()
  }

  /** Shows the page starting at `to` (clamped to the list). */
  function goTo(to: number): Promise<void> {
    const last = Math.max(0, Math.floor((list.total - 1) / ORDERS_PAGE_SIZE) * ORDERS_PAGE_SIZE)
    list.offset = Math.min(Math.max(0, to), last)
    generation++
    return run()
  }

  function reset(): void {
    generation++
    list.filters = { ...initial } as UnwrapRef<F>
    list.sort = null
    list.offset = 0
  }

  return list
}

/** The timeline panel: one order's events, kept live while open. */
export interface OpenTimeline {
  orderNo: string
  /** Null until the first answer. */
  events: OrderEvent[] | null
  error: BackendError | null
}

/**
 * The Orders console: the header figures, orders placed/paid/expired/cancelled per minute,
 * pending/paid and cancelled orders, the goods, and an order's timeline, reloaded when the core
 * says orders changed (`orders_changed`). The countdowns tick on a local 1 s clock (`now`); the
 * core is never polled: when a minute ends the chart moves on by itself (a new minute starts
 * with nothing, until an event says otherwise).
 */
export const useOrdersStore = defineStore('orders', () => {
  const backend = useBackend()

  const summary = ref<OrdersSummary | null>(null)
  const summaryError = ref<BackendError | null>(null)

  /** The local clock the countdowns read (ms), ticking every second while started. */
  const now = ref(Date.now())

  const orders = pagedList<Order, OrderFilters>(
    (q) => backend.ordersList(q),
    DEFAULT_ORDER_FILTERS,
    (f) => (f.status === null ? {} : { status: f.status }),
    // Fresh rows read a fresh clock: an order placed between two ticks must not show up to a
    // second more than it has.
    () => advanceClock(),
  )
  const cancelled = pagedList<CancelledOrder, { search: string }>(
    (q) => backend.cancelledList(q),
    { search: '' },
    () => ({}),
  )

  const goods = ref<Goods[]>([])
  const goodsLoaded = ref(false)
  const goodsError = ref<BackendError | null>(null)

  const timeline = ref<OpenTimeline | null>(null)

  /** The last ACTIVITY_MINUTES minutes, oldest first; null until the first answer. */
  const activity = ref<OrderActivity[] | null>(null)
  const activityError = ref<BackendError | null>(null)

  async function call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw toBackendError(e)
    }
  }

  // ---- loads ----

  const refreshSummary = coalesced(async () => {
    try {
      summary.value = await backend.ordersSummary()
      summaryError.value = null
    } catch (e) {
      summaryError.value = toBackendError(e)
    }
  })

  const refreshActivity = coalesced(async () => {
    try {
      activity.value = await backend.ordersActivity(ACTIVITY_MINUTES)
      activityError.value = null
    } catch (e) {
      activityError.value = toBackendError(e)
    }
  })

  const refreshGoods = coalesced(async () => {
    try {
      goods.value = await backend.goodsList()
      goodsLoaded.value = true
      goodsError.value = null
    } catch (e) {
      goodsError.value = toBackendError(e)
    }
  })

  let timelineGeneration = 0

  async function loadTimeline(orderNo: string): Promise<void> {
    const gen = timelineGeneration
    try {
      const events = await backend.orderTimeline(orderNo)
      if (gen === timelineGeneration && timeline.value) timeline.value = { orderNo, events, error: null }
    } catch (e) {
      if (gen === timelineGeneration && timeline.value) timeline.value.error = toBackendError(e)
    }
  }

  const refreshTimeline = coalesced(async () => {
    if (timeline.value) await loadTimeline(timeline.value.orderNo)
  })

  function openTimeline(orderNo: string): Promise<void> {
    timelineGeneration++
    timeline.value = { orderNo, events: null, error: null }
    return loadTimeline(orderNo)
  }

  function closeTimeline(): void {
    timelineGeneration++
    timeline.value = null
  }

  /** Everything shown, again (after an action, or when the core says orders changed). */
  async function refreshAll(): Promise<void> {
    await Promise.all([
      refreshSummary(),
      refreshActivity(),
      orders.refresh(),
      cancelled.refresh(),
      refreshGoods(),
      refreshTimeline(),
    ])
  }

  // ---- actions: each rejects with a BackendError, for the caller to show ----

  /** Cancels a pending order now; the core asks Alipay first and may refuse. */
  async function cancel(orderNo: string, reason: string): Promise<void> {
    try {
      await call(() => backend.orderCancel(orderNo, reason))
    } finally {
      // A refusal may still have changed the order (Alipay said paid: it was marked paid).
      void refreshAll()
    }
  }

  /** Asks Alipay about a pending order now; true when it was found paid (and marked so). */
  async function checkPayment(orderNo: string): Promise<boolean> {
    const paid = await call(() => backend.orderCheckPayment(orderNo))
    void refreshAll()
    return paid
  }

  async function placeOrder(draft: OrderDraft): Promise<Order> {
    const order = await call(() => backend.orderPlace(draft))
    void refreshAll()
    return order
  }

  async function createGoods(draft: NewGoods): Promise<Goods> {
    const created = await call(() => backend.goodsCreate(draft))
    void refreshGoods()
    return created
  }

  // ---- the local clock ----

  /**
   * Moves the activity on to the minute `now` is in: minutes that began since its last point
   * are added with zeros (an order placed, paid or cancelled in them would have sent
   * `orders_changed`, which asks the core again), the oldest dropped.
   */
  function rollActivity(): void {
    const points = activity.value
    const newest = points?.[points.length - 1]
    if (!points || !newest) return
    const current = Math.floor(now.value / MINUTE_MS) * MINUTE_MS
    const added: OrderActivity[] = []
    for (let at = Date.parse(newest.at) + MINUTE_MS; at <= current; at += MINUTE_MS) {
      added.push({ at: new Date(at).toISOString().replace('.000Z', 'Z'), placed: 0, paid: 0, expired: 0, cancelled: 0 })
    }
    if (added.length > 0) activity.value = [...points, ...added].slice(-ACTIVITY_MINUTES)
  }

  let ticker: ReturnType<typeof setInterval> | undefined

  /** Reads the time; on a tick, and whenever orders arrive. */
  function advanceClock(): void {
    const before = now.value
    now.value = Date.now()
    if (Math.floor(now.value / MINUTE_MS) !== Math.floor(before / MINUTE_MS)) rollActivity()
    // The header's "expiring soon" is the core's count when it was read: read it again when an
    // order shown enters the window (a time the page knows, not a poll).
    const entered = orders.rows.some((o) => {
      if (o.status !== 'pending') return false
      const soon = Date.parse(o.expires_at) - EXPIRING_SOON_MS
      return soon > before && soon <= now.value
    })
    if (entered) void refreshSummary()
  }

  // ---- live ----

  function onEvent(e: CoreEvent): void {
    if (e.kind === 'orders_changed') void refreshAll()
  }

  let running = false
  const subscription = coreSubscription(backend, () => void refreshAll())

  /** Subscribes to core events, starts the clock, then loads everything. Idempotent. */
  async function start(): Promise<void> {
    if (running) return
    running = true
    const isCurrent = subscription.begin()
    orders.reset()
    cancelled.reset()
    now.value = Date.now()
    clearInterval(ticker)
    ticker = setInterval(advanceClock, TICK_MS)
    try {
      await subscription.listen(isCurrent, onEvent)
    } catch (e) {
      if (isCurrent()) orders.error = toBackendError(e)
    }
    if (!isCurrent()) return
    await Promise.all([refreshSummary(), refreshActivity(), orders.refresh(), cancelled.refresh(), refreshGoods()])
  }

  function stop(): void {
    running = false
    subscription.end()
    clearInterval(ticker)
    ticker = undefined
    closeTimeline()
    // The chart's points go with the page (a page opened again reads them again).
    activity.value = null
  }

  return {
    summary,
    summaryError,
    orders,
    cancelled,
    goods,
    goodsLoaded,
    goodsError,
    timeline,
    activity,
    activityError,
    now,
    refreshSummary,
    refreshActivity,
    refreshGoods,
    refreshAll,
    openTimeline,
    closeTimeline,
    cancel,
    checkPayment,
    placeOrder,
    createGoods,
    start,
    stop,
  }
})
