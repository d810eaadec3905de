import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, RouterLinkStub, type VueWrapper } from '@vue/test-utils'
import { h } from 'vue'
import type { Pinia } from 'pinia'
import { createMemoryHistory, createRouter, RouterView, type Router } from 'vue-router'
import { useNoticesStore } from '../stores/notices'
import OrdersView from '../views/OrdersView.vue'
import {
  backendPlugins,
  cancelledOrder,
  FAKE_ACTOR,
  FakeBackend,
  goods,
  order,
  orderEvent,
  staffMember,
} from './fakeBackend'

let backend: FakeBackend
let wrapper: VueWrapper | undefined
let pinia: Pinia

const NOW = Date.parse('2026-01-10T02:20:00Z')

async function mountView() {
  const mounted = backendPlugins(backend)
  pinia = mounted.pinia
  wrapper = mount(OrdersView, { global: { plugins: mounted.plugins, stubs: { RouterLink: RouterLinkStub } }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

/** The Orders page under a router, opened at `path` (e.g. a notice's link). */
async function mountRouted(path: string): Promise<{ w: VueWrapper; router: Router }> {
  const mounted = backendPlugins(backend)
  pinia = mounted.pinia
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/orders', name: 'orders', component: OrdersView }] })
  await router.push(path)
  await router.isReady()
  wrapper = mount({ render: () => h(RouterView) }, { global: { plugins: [...mounted.plugins, router] }, attachTo: document.body })
  await flushPromises()
  return { w: wrapper, router }
}

/** The notices the page raised (stores/notices.ts; Notices.vue shows them, see Notices.spec). */
const notices = () => useNoticesStore(pinia).notices
const lastNotice = () => notices()[notices().length - 1]

const testid = (w: VueWrapper, id: string) => w.get(`[data-testid="${id}"]`)
const row = (w: VueWrapper, orderNo: string) => w.get(`[data-testid="order-row"][data-order-no="${orderNo}"]`)
const rowNos = (w: VueWrapper, kind = 'order-row') =>
  w.findAll(`[data-testid="${kind}"]`).map((r) => r.attributes('data-order-no'))
const countdownOf = (w: VueWrapper, orderNo: string) => row(w, orderNo).get('[data-testid="order-countdown"]')
const fieldError = (w: VueWrapper, field: string) => w.find(`[data-testid="field-error"][data-field="${field}"]`)

async function openTools(w: VueWrapper) {
  await testid(w, 'orders-tools-toggle').trigger('click')
}

beforeEach(() => {
  // setInterval drives the countdowns; setTimeout the search pause. flushPromises needs setImmediate.
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] })
  vi.setSystemTime(NOW)
  backend = new FakeBackend()
  backend.ordersSandbox = true
  backend.goods = [
    goods({ id: 1, sku: 'MUG-1', name: 'Tea mug', price_fen: 1250, stock_available: 4, stock_locked: 6 }),
    goods({ id: 2, sku: 'PEN-2', name: 'Pen', price_fen: 300, stock_available: 50 }),
  ]
  backend.orders = [
    order({
      id: 1,
      order_no: 'OD-A',
      user_id: 10086,
      amount_fen: 3750,
      created_at: '2026-01-10T02:00:00Z',
      expires_at: '2026-01-10T02:30:00Z',
      items: [{ goods_id: 1, quantity: 3, price_fen: 1250 }],
    }),
    order({
      id: 2,
      order_no: 'OD-B',
      user_id: 7,
      amount_fen: 4350,
      expires_at: '2026-01-10T02:20:03Z',
      items: [
        { goods_id: 1, quantity: 3, price_fen: 1250 },
        { goods_id: 2, quantity: 2, price_fen: 300 },
      ],
    }),
  ]
  backend.cancelledOrders = [
    cancelledOrder({
      order_id: 9,
      order_no: 'OD-GONE',
      user_id: 42,
      amount_fen: 120050,
      cancelled_at: '2026-01-10T01:00:00Z',
      reason: { code: 'unpaid_minutes', params: { minutes: '30' } },
      cancelled_by: 'sweep',
    }),
  ]
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
  vi.useRealTimers()
})

describe('OrdersView', () => {
  it('shows the pending and expiring-soon counts, the sandbox badge and the pending orders', async () => {
    const w = await mountView()
    expect(testid(w, 'page-title').text()).toBe('Orders')
    expect(testid(w, 'orders-pending-count').text()).toBe('2')
    expect(testid(w, 'orders-expiring-soon').text()).toBe('1')
    expect(testid(w, 'orders-sandbox').text()).toBe('sandbox')
    expect(backend.callsTo('orders_list')).toEqual([{ query: { offset: 0, limit: 50, status: 'pending' } }])

    expect(rowNos(w)).toEqual(['OD-B', 'OD-A'])
    const a = row(w, 'OD-A')
    expect(a.attributes('data-status')).toBe('pending')
    expect(a.get('[data-testid="order-user"]').text()).toBe('10086')
    expect(a.get('[data-testid="order-amount"]').text()).toBe('¥37.50')
    expect(a.get('time').text()).toBe('Jan 10, 2026, 03:00:00') // the app's zone, Europe/Berlin
    expect(a.get('[data-testid="order-items"]').text()).toBe('3 × Tea mug (MUG-1)')
    expect(row(w, 'OD-B').get('[data-testid="order-items"]').text()).toBe('3 × Tea mug (MUG-1), 2 × Pen (PEN-2)')
    expect(testid(w, 'orders-page-range').text()).toBe('1–2 of 2')
  })

  it('counts down to each expiry on a local clock, without asking the core', async () => {
    const w = await mountView()
    expect(countdownOf(w, 'OD-A').text()).toBe('10:00')
    expect(countdownOf(w, 'OD-B').text()).toBe('00:03')
    const calls = backend.calls.length

    vi.advanceTimersByTime(1000)
    await flushPromises()
    expect(countdownOf(w, 'OD-A').text()).toBe('09:59')
    expect(countdownOf(w, 'OD-B').text()).toBe('00:02')
    expect(countdownOf(w, 'OD-B').attributes('data-expired')).toBe('false')

    vi.advanceTimersByTime(3000)
    await flushPromises()
    expect(countdownOf(w, 'OD-A').text()).toBe('09:56')
    // Short in the cell; the whole sentence and the expiry time on hover.
    expect(countdownOf(w, 'OD-B').text()).toBe('expired')
    expect(countdownOf(w, 'OD-B').attributes('data-expired')).toBe('true')
    expect(countdownOf(w, 'OD-B').element.closest('td')?.getAttribute('title')).toMatch(
      /^expired — waiting for the sweep \(expires at Jan 10, 2026, 03:2\d:\d\d\)$/,
    )
    expect(backend.calls.length).toBe(calls)
  })

  it('reloads when the core says orders changed: the sweep’s cancellation moves the order to Cancelled', async () => {
    const w = await mountView()
    backend.orders = backend.orders.filter((o) => o.order_no !== 'OD-B')
    backend.cancelledOrders.push(
      cancelledOrder({ order_id: 2, order_no: 'OD-B', cancelled_at: '2026-01-10T02:20:05Z', cancelled_by: 'sweep' }),
    )
    backend.push({ kind: 'orders_changed' })
    await flushPromises()
    expect(rowNos(w)).toEqual(['OD-A'])
    expect(testid(w, 'orders-pending-count').text()).toBe('1')

    await testid(w, 'orders-tab-cancelled').trigger('click')
    expect(rowNos(w, 'cancelled-row')).toEqual(['OD-B', 'OD-GONE'])
    const gone = w.get('[data-testid="cancelled-row"][data-order-no="OD-GONE"]')
    expect(gone.get('[data-testid="cancelled-amount"]').text()).toBe('¥1,200.50')
    expect(gone.get('[data-testid="cancelled-reason"]').text()).toBe('Unpaid 30 min after it was placed')
    expect(gone.get('[data-testid="cancelled-by"]').text()).toBe('sweep')
    expect(w.find('[data-testid="order-row"]').exists()).toBe(false)
  })

  it('cancels an order only with a reason, and lists it as cancelled by staff', async () => {
    const w = await mountView()
    await row(w, 'OD-A').get('[data-testid="order-cancel"]').trigger('click')
    const dialog = testid(w, 'order-cancel-dialog')
    expect(dialog.attributes('data-order-no')).toBe('OD-A')
    expect(dialog.text()).toContain('¥37.50 for user 10086')
    // The dialog is not the row: no timeline opened.
    expect(w.find('[data-testid="order-timeline"]').exists()).toBe(false)

    await testid(w, 'order-cancel-confirm').trigger('click')
    await flushPromises()
    expect(backend.callsTo('order_cancel')).toEqual([])
    expect(fieldError(w, 'reason').text()).toBe('Say why the order is cancelled.')

    await testid(w, 'order-cancel-reason').setValue('  customer called: wrong size  ')
    expect(fieldError(w, 'reason').exists()).toBe(false)
    await testid(w, 'order-cancel-confirm').trigger('click')
    await flushPromises()
    expect(backend.callsTo('order_cancel')).toEqual([{ orderNo: 'OD-A', reason: 'customer called: wrong size' }])
    expect(w.find('[data-testid="order-cancel-dialog"]').exists()).toBe(false)
    expect(notices()).toMatchObject([
      {
        kind: 'success',
        text: 'Order OD-A was cancelled.',
        link: { to: { name: 'orders', query: { cancelled: 'OD-A' } }, label: 'View' },
      },
    ])
    expect(rowNos(w)).toEqual(['OD-B'])

    await testid(w, 'orders-tab-cancelled').trigger('click')
    const cancelled = w.get('[data-testid="cancelled-row"][data-order-no="OD-A"]')
    expect(cancelled.get('[data-testid="cancelled-reason"]').text()).toBe('customer called: wrong size')
    expect(cancelled.get('[data-testid="cancelled-by"]').text()).toBe(FAKE_ACTOR)
  })

  it('shows the core’s message when it refuses a cancel (Alipay says paid)', async () => {
    backend.paidAtAlipay.add('OD-A')
    const w = await mountView()
    await row(w, 'OD-A').get('[data-testid="order-cancel"]').trigger('click')
    await testid(w, 'order-cancel-reason').setValue('no longer wanted')
    await testid(w, 'order-cancel-confirm').trigger('click')
    await flushPromises()
    expect(backend.callsTo('order_cancel')).toHaveLength(1)
    expect(w.find('[data-testid="order-cancel-dialog"]').exists()).toBe(false)
    expect(notices()).toMatchObject([
      {
        kind: 'error',
        title: 'Could not cancel OD-A:',
        text: 'Alipay says OD-A is paid: it was marked paid, not cancelled.',
        key: 'order.cancel:OD-A',
      },
    ])
    // Marked paid by the core: gone from the pending list, listed as paid.
    expect(rowNos(w)).toEqual(['OD-B'])
    await testid(w, 'orders-filter-status').setValue('paid')
    await flushPromises()
    expect(row(w, 'OD-A').attributes('data-status')).toBe('paid')
    expect(row(w, 'OD-A').find('[data-testid="order-cancel"]').exists()).toBe(false)
  })

  it('checks a payment now and says what Alipay answered', async () => {
    backend.paidAtAlipay.add('OD-B')
    const w = await mountView()
    await row(w, 'OD-A').get('[data-testid="order-check-payment"]').trigger('click')
    await flushPromises()
    expect(notices()).toMatchObject([
      { kind: 'info', text: 'Still unpaid: Alipay has no payment for OD-A.', key: 'order.check:OD-A' },
    ])

    await row(w, 'OD-B').get('[data-testid="order-check-payment"]').trigger('click')
    await flushPromises()
    // Found paid, it leaves the list: the notice links to its timeline.
    expect(lastNotice()).toMatchObject({
      kind: 'success',
      text: 'Found paid: Alipay says OD-B is paid; it is marked paid.',
      link: { to: { name: 'orders', query: { order: 'OD-B' } }, label: 'View order' },
    })
    expect(backend.callsTo('order_check_payment')).toEqual([{ orderNo: 'OD-A' }, { orderNo: 'OD-B' }])
    expect(rowNos(w)).toEqual(['OD-A'])
  })

  it('shows why a check failed', async () => {
    backend.failures.order_check_payment = { code: 'alipay_unavailable', message: 'Alipay: ACQ.SYSTEM_ERROR', params: { order_no: 'OD-A' } }
    const w = await mountView()
    await row(w, 'OD-A').get('[data-testid="order-check-payment"]').trigger('click')
    await flushPromises()
    expect(notices()).toMatchObject([
      {
        kind: 'error',
        title: 'Could not check the payment of OD-A:',
        text: 'Alipay could not be asked about OD-A; nothing was changed.',
      },
    ])
  })

  it('opened by a notice’s link, shows a cancelled order or an order’s timeline', async () => {
    const { w, router } = await mountRouted('/orders?cancelled=OD-GONE')
    expect(testid(w, 'orders-tab-cancelled').attributes('aria-selected')).toBe('true')
    expect(backend.callsTo('cancelled_list').slice(-1)[0]).toEqual({ query: { offset: 0, limit: 50, search: 'OD-GONE' } })
    expect((testid(w, 'orders-search').element as HTMLInputElement).value).toBe('OD-GONE')
    expect(rowNos(w, 'cancelled-row')).toEqual(['OD-GONE'])
    expect(router.currentRoute.value.fullPath).toBe('/orders')

    await router.push({ name: 'orders', query: { order: 'OD-A' } })
    await flushPromises()
    expect(testid(w, 'order-timeline').attributes('data-order-no')).toBe('OD-A')
  })

  it('searches by order number or user id after typing stops, and filters by state at once', async () => {
    const w = await mountView()
    await testid(w, 'orders-search').setValue('7')
    await flushPromises()
    expect(backend.callsTo('orders_list')).toHaveLength(1)
    vi.advanceTimersByTime(300)
    await flushPromises()
    expect(backend.callsTo('orders_list').slice(-1)[0]).toEqual({
      query: { offset: 0, limit: 50, status: 'pending', search: '7' },
    })
    expect(rowNos(w)).toEqual(['OD-B'])

    await testid(w, 'orders-filter-status').setValue('paid')
    await flushPromises()
    expect(backend.callsTo('orders_list').slice(-1)[0]).toEqual({
      query: { offset: 0, limit: 50, status: 'paid', search: '7' },
    })
    expect(testid(w, 'orders-empty').text()).toBe('No orders match this search.')
  })

  it('searches the cancelled orders on their own tab', async () => {
    backend.cancelledOrders.push(cancelledOrder({ order_id: 10, order_no: 'OD-OTHER', user_id: 5 }))
    const w = await mountView()
    await testid(w, 'orders-tab-cancelled').trigger('click')
    expect(rowNos(w, 'cancelled-row')).toEqual(['OD-OTHER', 'OD-GONE'])
    await testid(w, 'orders-search').setValue('42')
    await testid(w, 'orders-search').trigger('keydown', { key: 'Enter' })
    await flushPromises()
    expect(backend.callsTo('cancelled_list').slice(-1)[0]).toEqual({ query: { offset: 0, limit: 50, search: '42' } })
    expect(rowNos(w, 'cancelled-row')).toEqual(['OD-GONE'])
  })

  it('pages through the orders with the footer buttons', async () => {
    backend.orders = Array.from({ length: 70 }, (_, i) =>
      order({ id: i + 1, order_no: `OD-${i + 1}`, expires_at: new Date(NOW + (i + 1) * 60_000).toISOString() }),
    )
    const w = await mountView()
    expect(testid(w, 'orders-page-range').text()).toBe('1–50 of 70')
    expect(testid(w, 'orders-page-prev').attributes('disabled')).toBeDefined()
    await testid(w, 'orders-page-next').trigger('click')
    await flushPromises()
    expect(backend.callsTo('orders_list').slice(-1)[0]).toEqual({ query: { offset: 50, limit: 50, status: 'pending' } })
    expect(testid(w, 'orders-page-range').text()).toBe('51–70 of 70')
    expect(rowNos(w)[0]).toBe('OD-51')
    expect(testid(w, 'orders-page-next').attributes('disabled')).toBeDefined()
  })

  it('opens an order’s timeline with who did what, the detail and the job run’s key', async () => {
    backend.timelines['OD-A'] = [
      orderEvent({ at: '2026-01-10T02:00:00Z', event: 'placed', detail: { amount_fen: 3750 }, who: 'shop' }),
      orderEvent({
        at: '2026-01-10T02:30:02Z',
        event: 'queried',
        detail: { trade_status: 'TRADE_NOT_EXIST' },
        who: 'sweep',
        run_key: 's:3:1768012200000',
      }),
      orderEvent({ at: '2026-01-10T02:30:03Z', event: 'cancelled', detail: { reason: 'unpaid' }, who: 'sweep', run_key: 's:3:1768012200000' }),
      orderEvent({
        at: '2026-01-10T02:30:03Z',
        event: 'stock_restored',
        detail: [{ goods_id: 1, quantity: 3 }],
        who: 'sweep',
        run_key: 's:3:1768012200000',
      }),
    ]
    const w = await mountView()
    await row(w, 'OD-A').trigger('click')
    await flushPromises()
    const panel = testid(w, 'order-timeline')
    expect(panel.attributes('data-order-no')).toBe('OD-A')
    expect(backend.callsTo('order_timeline')).toEqual([{ orderNo: 'OD-A' }])
    const events = panel.findAll('[data-testid="timeline-event"]')
    expect(events.map((e) => e.attributes('data-event'))).toEqual(['placed', 'queried', 'cancelled', 'stock_restored'])
    expect(events[0]!.get('[data-testid="timeline-who"]').text()).toBe('shop')
    expect(events[0]!.get('[data-testid="timeline-detail"]').text()).toBe('¥37.50')
    expect(events[0]!.find('[data-testid="timeline-run-key"]').exists()).toBe(false)
    expect(events[1]!.get('[data-testid="timeline-detail"]').text()).toBe('TRADE_NOT_EXIST')
    expect(events[3]!.get('[data-testid="timeline-detail"]').text()).toBe('3 × Tea mug (MUG-1)')
    expect(events[2]!.text()).toContain('Jan 10, 2026, 03:30:03 +01:00')
    const link = events[2]!.getComponent(RouterLinkStub)
    expect(link.text()).toBe('s:3:1768012200000')
    expect(link.props('to')).toBe('/jobs')

    // Live: an order change reloads the open timeline.
    backend.timelines['OD-A']!.push(orderEvent({ event: 'conflict', detail: { trade_no: 'T1', note: 'paid after it was cancelled: for staff' }, who: 'alipay' }))
    backend.push({ kind: 'orders_changed' })
    await flushPromises()
    expect(w.findAll('[data-testid="timeline-event"]')).toHaveLength(5)

    await testid(w, 'order-timeline-close').trigger('click')
    expect(w.find('[data-testid="order-timeline"]').exists()).toBe(false)
  })

  it('places a test order from the goods list; the core’s field errors are shown next to the fields', async () => {
    const w = await mountView()
    expect(w.find('[data-testid="new-order-form"]').exists()).toBe(false)
    await openTools(w)
    const mug = w.get('[data-testid="goods-row"][data-sku="MUG-1"]')
    expect(mug.get('[data-testid="goods-available"]').text()).toBe('4')
    expect(mug.get('[data-testid="goods-locked"]').text()).toBe('6')
    expect(mug.get('[data-testid="goods-sold"]').text()).toBe('0')

    // Nothing picked, no user: refused here, the core is not asked.
    await testid(w, 'new-order-submit').trigger('click')
    await flushPromises()
    expect(fieldError(w, 'items').text()).toBe('Pick a good.')
    expect(fieldError(w, 'user_id').text()).toBe('Enter the user id as a number.')
    expect(backend.callsTo('order_place')).toEqual([])

    // More than is available: the core's message under the good and quantity.
    await testid(w, 'new-order-goods').setValue('1')
    await testid(w, 'new-order-quantity').setValue('5')
    await testid(w, 'new-order-user').setValue('10086')
    await testid(w, 'new-order-submit').trigger('click')
    await flushPromises()
    expect(backend.callsTo('order_place')).toEqual([
      { draft: { user_id: 10086, kind: 'goods', items: [{ goods_id: 1, quantity: 5, price_fen: 1250 }] } },
    ])
    expect(fieldError(w, 'items').text()).toBe('Not enough Tea mug (goods #1): 5 wanted, 4 available.')
    expect(fieldError(w, 'user_id').exists()).toBe(false)

    // User 0: the core's user_id error.
    await testid(w, 'new-order-quantity').setValue('3')
    await testid(w, 'new-order-user').setValue('0')
    await testid(w, 'new-order-submit').trigger('click')
    await flushPromises()
    expect(fieldError(w, 'user_id').text()).toBe('A user id is a positive whole number.')

    await testid(w, 'new-order-user').setValue('5')
    await testid(w, 'new-order-submit').trigger('click')
    await flushPromises()
    const done = testid(w, 'new-order-done')
    const orderNo = done.attributes('data-order-no')!
    expect(done.text()).toContain('¥37.50')
    expect(lastNotice()).toMatchObject({
      kind: 'success',
      text: `Placed ${orderNo} for ¥37.50.`,
      link: { to: { name: 'orders', query: { order: orderNo } }, label: 'View order' },
    })
    expect(rowNos(w)).toContain(orderNo)
    expect(countdownOf(w, orderNo).text()).toBe('30:00')
    const after = w.get('[data-testid="goods-row"][data-sku="MUG-1"]')
    expect(after.get('[data-testid="goods-available"]').text()).toBe('1')
    expect(after.get('[data-testid="goods-locked"]').text()).toBe('9')
  })

  it('adds goods with the price in yuan; the core’s field errors are shown next to the fields', async () => {
    const w = await mountView()
    await openTools(w)
    await testid(w, 'new-goods-sku').setValue('MUG-1')
    await testid(w, 'new-goods-name').setValue('Big mug')
    await testid(w, 'new-goods-price').setValue('abc')
    await testid(w, 'new-goods-stock').setValue('10')
    await testid(w, 'new-goods-submit').trigger('click')
    await flushPromises()
    expect(fieldError(w, 'price').text()).toBe('Enter the price in yuan, e.g. 12.50.')
    expect(backend.callsTo('goods_create')).toEqual([])

    await testid(w, 'new-goods-price').setValue('19.9')
    await testid(w, 'new-goods-submit').trigger('click')
    await flushPromises()
    expect(backend.callsTo('goods_create')).toEqual([{ goods: { sku: 'MUG-1', name: 'Big mug', price_fen: 1990, stock: 10 } }])
    expect(fieldError(w, 'sku').text()).toBe('Goods with SKU “MUG-1” exist already.')
    expect(fieldError(w, 'price').exists()).toBe(false)

    await testid(w, 'new-goods-sku').setValue('MUG-BIG')
    await testid(w, 'new-goods-submit').trigger('click')
    await flushPromises()
    expect(fieldError(w, 'sku').exists()).toBe(false)
    expect(testid(w, 'new-goods-done').attributes('data-sku')).toBe('MUG-BIG')
    expect(notices().map((n) => [n.kind, n.text])).toEqual([
      ['success', 'Added Big mug (MUG-BIG) at ¥19.90, 10 in stock.'],
    ])
    expect((testid(w, 'new-goods-sku').element as HTMLInputElement).value).toBe('')
    const created = w.get('[data-testid="goods-row"][data-sku="MUG-BIG"]')
    expect(created.text()).toContain('¥19.90')
    expect(created.get('[data-testid="goods-available"]').text()).toBe('10')
    expect(w.get('[data-testid="new-order-goods"]').text()).toContain('Big mug (MUG-BIG)')
  })

  it('stops listening and ticking when left', async () => {
    const w = await mountView()
    expect(backend.listenerCount).toBe(1)
    w.unmount()
    wrapper = undefined
    expect(backend.listenerCount).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('OrdersView for a viewer', () => {
  it('shows the orders with every action disabled, saying why', async () => {
    backend.session = staffMember({ role: 'viewer' })
    const w = await mountView()
    expect(rowNos(w)).toEqual(['OD-B', 'OD-A'])
    const cancel = row(w, 'OD-A').get('[data-testid="order-cancel"]')
    expect(cancel.attributes('disabled')).toBeDefined()
    expect(cancel.attributes('title')).toBe('Your role (viewer) cannot cancel orders')
    const check = row(w, 'OD-A').get('[data-testid="order-check-payment"]')
    expect(check.attributes('disabled')).toBeDefined()
    expect(check.attributes('title')).toBe('Your role (viewer) cannot check payments')

    await openTools(w)
    expect(testid(w, 'new-order-submit').attributes('disabled')).toBeDefined()
    expect(testid(w, 'new-goods-submit').attributes('disabled')).toBeDefined()
    expect(testid(w, 'new-goods-submit').attributes('title')).toBe('Your role (viewer) cannot add goods')
  })

  it('enables them for an operator, without a title', async () => {
    backend.session = staffMember({ role: 'operator' })
    const w = await mountView()
    const cancel = row(w, 'OD-A').get('[data-testid="order-cancel"]')
    expect(cancel.attributes('disabled')).toBeUndefined()
    expect(cancel.attributes('title')).toBeUndefined()
  })

  it('says the core’s refusal in an error notice when the role changed meanwhile', async () => {
    const w = await mountView()
    backend.session = staffMember({ role: 'viewer' }) // the core knows; the page does not yet
    await row(w, 'OD-A').get('[data-testid="order-check-payment"]').trigger('click')
    await flushPromises()
    expect(notices()).toMatchObject([
      {
        kind: 'error',
        title: 'Could not check the payment of OD-A:',
        text: 'Your role (viewer) cannot check payments.',
        code: 'forbidden', // the code: on hover, not shown as text
      },
    ])
  })
})
