import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import { flushPromises } from '@vue/test-utils'
import { provideBackend } from '../backend'
import { countdown } from '../ordersFormat'
import { useOrdersStore } from '../stores/orders'
import { cancelledOrder, FakeBackend, goods, order, orderEvent } from './fakeBackend'

let backend: FakeBackend

function store() {
  const app = createApp({ render: () => null })
  provideBackend(app, backend)
  app.use(createPinia())
  return useOrdersStore()
}

async function started() {
  const orders = store()
  await orders.start()
  await flushPromises()
  return orders
}

const NOW = Date.parse('2026-01-10T02:20:00Z')

/** The arguments of the latest call to `cmd`. */
const last = (cmd: Parameters<FakeBackend['callsTo']>[0]) => backend.callsTo(cmd).slice(-1)[0]
const orderNos = (rows: { order_no: string }[]) => rows.map((o) => o.order_no)

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] })
  vi.setSystemTime(NOW)
  backend = new FakeBackend()
  backend.goods = [goods({ id: 1, stock_available: 4, stock_locked: 6 })]
  backend.orders = [
    order({ id: 1, order_no: 'OD-A', expires_at: '2026-01-10T02:30:00Z', items: [{ goods_id: 1, quantity: 3, price_fen: 1250 }] }),
    order({ id: 2, order_no: 'OD-B', user_id: 7, expires_at: '2026-01-10T02:24:00Z', items: [{ goods_id: 1, quantity: 3, price_fen: 1250 }] }),
    order({ id: 3, order_no: 'OD-PAID', status: 'paid', paid_at: '2026-01-10T02:05:00Z', trade_no: '2026…' }),
  ]
  backend.cancelledOrders = [cancelledOrder({ order_id: 9, order_no: 'OD-GONE', cancelled_at: '2026-01-10T01:00:00Z' })]
})

afterEach(() => {
  vi.useRealTimers()
})

describe('Orders store', () => {
  it('subscribes, then loads the figures, the pending orders, the cancelled ones and the goods', async () => {
    const orders = await started()
    expect(backend.listenerCount).toBe(1)
    expect(backend.callsTo('orders_summary')).toHaveLength(1)
    expect(backend.callsTo('orders_list')).toEqual([{ query: { offset: 0, limit: 50, status: 'pending' } }])
    expect(backend.callsTo('cancelled_list')).toEqual([{ query: { offset: 0, limit: 50 } }])
    expect(backend.callsTo('goods_list')).toHaveLength(1)
    expect(orders.summary).toEqual({ pending: 2, expiring_soon: 1, sandbox: false })
    // Soonest to expire first, as the core sends them.
    expect(orderNos(orders.orders.rows)).toEqual(['OD-B', 'OD-A'])
    expect(orders.orders.total).toBe(2)
    expect(orderNos(orders.cancelled.rows)).toEqual(['OD-GONE'])
    expect(orders.goods.map((g) => g.sku)).toEqual(['MUG-1'])
  })

  it('reloads everything shown when the core says orders changed, folding a burst', async () => {
    const orders = await started()
    await orders.openTimeline('OD-A')
    const [pending, cancelled, summaries, goodsCalls, timelines] = [
      'orders_list',
      'cancelled_list',
      'orders_summary',
      'goods_list',
      'order_timeline',
    ].map((c) => backend.callsTo(c as 'orders_list').length)

    // The sweep cancelled OD-A.
    backend.orders = backend.orders.filter((o) => o.order_no !== 'OD-A')
    backend.cancelledOrders.push(cancelledOrder({ order_id: 1, order_no: 'OD-A', cancelled_at: '2026-01-10T02:31:00Z' }))
    backend.goods[0]!.stock_available = 7
    backend.timelines['OD-A'] = [orderEvent(), orderEvent({ event: 'cancelled', who: 'sweep', run_key: 's:3:1768012260000' })]
    for (let i = 0; i < 4; i++) backend.push({ kind: 'orders_changed' })
    await flushPromises()

    expect(orderNos(orders.orders.rows)).toEqual(['OD-B'])
    expect(orderNos(orders.cancelled.rows)).toEqual(['OD-A', 'OD-GONE'])
    expect(orders.summary?.pending).toBe(1)
    expect(orders.goods[0]?.stock_available).toBe(7)
    expect(orders.timeline?.events?.map((e) => e.event)).toEqual(['placed', 'cancelled'])
    // One fetch now and at most one more for the rest of the burst, per list.
    expect(backend.callsTo('orders_list').length - pending!).toBe(2)
    expect(backend.callsTo('cancelled_list').length - cancelled!).toBe(2)
    expect(backend.callsTo('orders_summary').length - summaries!).toBe(2)
    expect(backend.callsTo('goods_list').length - goodsCalls!).toBe(2)
    expect(backend.callsTo('order_timeline').length - timelines!).toBe(2)
  })

  it('sends the search and state filter, starting again at the first page', async () => {
    const orders = await started()
    await orders.orders.setFilters({ status: null, search: ' 7 ' })
    expect(last('orders_list')).toEqual({ query: { offset: 0, limit: 50, search: '7' } })
    expect(orderNos(orders.orders.rows)).toEqual(['OD-B'])

    await orders.orders.setFilters({ status: 'paid', search: '' })
    expect(last('orders_list')).toEqual({ query: { offset: 0, limit: 50, status: 'paid' } })
    expect(orderNos(orders.orders.rows)).toEqual(['OD-PAID'])

    await orders.cancelled.setFilters({ search: 'OD-GONE' })
    expect(last('cancelled_list')).toEqual({ query: { offset: 0, limit: 50, search: 'OD-GONE' } })
    expect(orders.cancelled.total).toBe(1)
  })

  it('pages, and goes back to the last page when the one shown has emptied', async () => {
    backend.orders = Array.from({ length: 60 }, (_, i) =>
      order({ id: i + 1, order_no: `OD-${i + 1}`, expires_at: new Date(NOW + (i + 1) * 60_000).toISOString() }),
    )
    const orders = await started()
    await orders.orders.goTo(50)
    expect(last('orders_list')).toEqual({ query: { offset: 50, limit: 50, status: 'pending' } })
    expect(orders.orders.rows).toHaveLength(10)
    backend.orders = backend.orders.slice(0, 45)
    backend.push({ kind: 'orders_changed' })
    await flushPromises()
    expect(orders.orders.offset).toBe(0)
    expect(orders.orders.rows).toHaveLength(45)
  })

  it('cancels with the reason and reloads; a refusal rejects with the core’s error and still reloads', async () => {
    const orders = await started()
    await orders.cancel('OD-A', 'customer asked on the phone')
    expect(backend.callsTo('order_cancel')).toEqual([{ orderNo: 'OD-A', reason: 'customer asked on the phone' }])
    await flushPromises()
    expect(orderNos(orders.orders.rows)).toEqual(['OD-B'])
    expect(orders.cancelled.rows[0]).toMatchObject({ order_no: 'OD-A', reason: { code: 'staff', params: { text: 'customer asked on the phone' } } })
    expect(orders.goods[0]).toMatchObject({ stock_available: 7, stock_locked: 3 })

    backend.paidAtAlipay.add('OD-B')
    await expect(orders.cancel('OD-B', 'duplicate')).rejects.toEqual({
      code: 'order_found_paid',
      message: 'Alipay says OD-B is paid: it was marked paid, not cancelled',
      params: { order_no: 'OD-B' },
    })
    await flushPromises()
    // Marked paid by the core: no longer pending.
    expect(orders.orders.rows).toEqual([])
  })

  it('checks a payment at Alipay: found paid or still unpaid', async () => {
    const orders = await started()
    await expect(orders.checkPayment('OD-A')).resolves.toBe(false)
    backend.paidAtAlipay.add('OD-B')
    await expect(orders.checkPayment('OD-B')).resolves.toBe(true)
    await flushPromises()
    expect(orderNos(orders.orders.rows)).toEqual(['OD-A'])
    expect(backend.callsTo('order_check_payment')).toEqual([{ orderNo: 'OD-A' }, { orderNo: 'OD-B' }])
  })

  it('rejects a refused order or good with the core’s field error', async () => {
    const orders = await started()
    await expect(orders.placeOrder({ user_id: 1, kind: 'goods', items: [{ goods_id: 1, quantity: 5, price_fen: 1250 }] })).rejects.toEqual({
      code: 'stock_short',
      field: 'items',
      message: 'not enough Tea mug (goods 1): 5 wanted, 4 available',
      params: { name: 'Tea mug', goods_id: '1', wanted: '5', available: '4' },
    })
    await expect(orders.createGoods({ sku: 'MUG-1', name: 'Mug', price_fen: 100, stock: 1 })).rejects.toMatchObject({
      field: 'sku',
    })
    const placed = await orders.placeOrder({ user_id: 1, kind: 'goods', items: [{ goods_id: 1, quantity: 4, price_fen: 1250 }] })
    expect(placed.amount_fen).toBe(5000)
    await flushPromises()
    expect(orders.orders.rows.map((o) => o.order_no)).toContain(placed.order_no)
    expect(orders.goods[0]).toMatchObject({ stock_available: 0, stock_locked: 10 })
  })

  it('ticks its clock every second without asking the core, except when an order enters the last five minutes', async () => {
    const orders = await started()
    const calls = backend.calls.length
    vi.advanceTimersByTime(3000)
    expect(orders.now).toBe(NOW + 3000)
    expect(backend.calls.length).toBe(calls)

    // OD-A expires at 02:30: it enters the five-minute window at 02:25 (5 min after NOW).
    vi.advanceTimersByTime(5 * 60_000 - 3000)
    await flushPromises()
    expect(backend.callsTo('orders_summary')).toHaveLength(2)
    expect(orders.summary?.expiring_soon).toBe(2)
    expect(backend.calls.length).toBe(calls + 1)
  })

  it('reads the clock afresh when orders arrive between two ticks', async () => {
    const orders = await started()
    vi.setSystemTime(NOW + 600) // no tick yet
    backend.orders.push(order({ id: 4, order_no: 'OD-NEW', expires_at: new Date(NOW + 600 + 5000).toISOString() }))
    backend.push({ kind: 'orders_changed' })
    await flushPromises()
    expect(orders.now).toBe(NOW + 600)
    expect(countdown(orders.orders.rows.find((o) => o.order_no === 'OD-NEW')!.expires_at, orders.now)).toBe('00:05')
  })

  it('stops listening and ticking on stop()', async () => {
    const orders = await started()
    await orders.openTimeline('OD-A')
    orders.stop()
    expect(backend.listenerCount).toBe(0)
    expect(orders.timeline).toBeNull()
    const now = orders.now
    vi.advanceTimersByTime(5000)
    expect(orders.now).toBe(now)
    backend.push({ kind: 'orders_changed' })
    await flushPromises()
    expect(backend.callsTo('orders_list')).toHaveLength(1)
  })

  it('keeps a failed load as a BackendError', async () => {
    backend.failures.orders_list = { code: 'database_unavailable', message: 'the database is unavailable: timed out' }
    backend.failures.orders_summary = 'boom'
    const orders = await started()
    expect(orders.orders.loaded).toBe(false)
    expect(orders.orders.error?.code).toBe('database_unavailable')
    expect(orders.summaryError).toEqual({ code: 'unknown', message: 'boom' })
    expect(orders.cancelled.loaded).toBe(true)
  })
})
