// The fake orders and goods commands, and builders of what they answer.
import type {
  OrderActivity,
  CancelledOrder,
  CancelledPage,
  Goods,
  NewGoods,
  Order,
  OrderDraft,
  OrderEvent,
  OrderPage,
  OrderQuery,
  OrdersSummary,
} from '../../backend'
import { clone, FAKE_ACTOR } from './core'
import { FakeOcr } from './ocr'

/** Orders and goods: the lists, timelines, cancelling, payment checks and placing. */
export class FakeOrders extends FakeOcr {
  /** Pending and paid orders; the order actions change them as the core would. */
  orders: Order[] = []
  cancelledOrders: CancelledOrder[] = []
  goods: Goods[] = []
  /** Each order's events, by order number; the actions append to them. */
  timelines: Record<string, OrderEvent[]> = {}
  /** What ordersActivity() answers (its last `minutes` points). */
  activity: OrderActivity[] = []
  /** Orders Alipay says are paid: a check finds them paid, a cancel is refused (and marks them paid). */
  paidAtAlipay = new Set<string>()
  /** How long a placed order has until it expires. */
  orderExpirySeconds = 1800
  ordersSandbox = false

  private pendingOrder(orderNo: string): Order {
    const order = this.orders.find((o) => o.order_no === orderNo)
    if (!order) throw { code: 'order_not_found', message: `no pending or paid order ${orderNo}`, params: { order_no: orderNo } }
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

  async ordersActivity(minutes: number): Promise<OrderActivity[]> {
    this.record('orders_activity', { minutes })
    return clone(this.activity.slice(-minutes))
  }

  async orderCancel(orderNo: string, reason: string): Promise<void> {
    this.record('order_cancel', { orderNo, reason })
    if (reason.trim() === '') {
      throw { code: 'length_out_of_range', field: 'reason', message: 'say why (1–500 characters)', params: { min: '1', max: '500' } }
    }
    const order = this.pendingOrder(orderNo)
    if (order.status !== 'pending') {
      throw { code: 'order_not_pending', message: `${orderNo} is no longer pending`, params: { order_no: orderNo } }
    }
    if (this.paidAtAlipay.has(orderNo)) {
      this.markPaid(order, FAKE_ACTOR)
      throw {
        code: 'order_found_paid',
        message: `Alipay says ${orderNo} is paid: it was marked paid, not cancelled`,
        params: { order_no: orderNo },
      }
    }
    this.orders = this.orders.filter((o) => o !== order)
    for (const item of order.items) {
      const g = this.goods.find((x) => x.id === item.goods_id)
      if (g) Object.assign(g, { stock_locked: g.stock_locked - item.quantity, stock_available: g.stock_available + item.quantity })
    }
    this.cancelledOrders.push(
      cancelledOrder({ ...order, order_id: order.id, cancelled_at: new Date().toISOString(), reason: { code: 'staff', params: { text: reason.trim() } }, cancelled_by: FAKE_ACTOR }),
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
      throw { code: 'sku_invalid', field: 'sku', message: "an SKU is 1 to 64 letters, digits, '-', '_' or '.'", params: { max: '64' } }
    }
    if (this.goods.some((g) => g.sku === sku)) {
      throw { code: 'sku_taken', field: 'sku', message: `goods with SKU ${sku} exist already`, params: { sku } }
    }
    if (draft.name.trim() === '') {
      throw { code: 'length_out_of_range', field: 'name', message: 'the name must be 1 to 191 characters', params: { min: '1', max: '191' } }
    }
    if (!(draft.price_fen >= 1)) {
      const params = { min: '0.01', max: '1000000' }
      throw { code: 'amount_out_of_range', field: 'price_fen', message: 'the amount must be from 0.01 to 1000000 yuan', params }
    }
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
    if (!(draft.user_id > 0)) {
      throw { code: 'user_id_invalid', field: 'user_id', message: 'a user id is a positive whole number' }
    }
    let amount = 0
    const items = draft.items.map((item) => {
      const g = this.goods.find((x) => x.id === item.goods_id)
      if (!g) {
        const params = { goods_id: String(item.goods_id) }
        throw { code: 'goods_unknown', field: 'items', message: `there are no goods ${item.goods_id}`, params }
      }
      if (g.stock_available < item.quantity) {
        throw {
          code: 'stock_short',
          field: 'items',
          message: `not enough ${g.name} (goods ${g.id}): ${item.quantity} wanted, ${g.stock_available} available`,
          params: { name: g.name, goods_id: String(g.id), wanted: String(item.quantity), available: String(g.stock_available) },
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
    reason: { code: 'unpaid_minutes', params: { minutes: '30' } },
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

