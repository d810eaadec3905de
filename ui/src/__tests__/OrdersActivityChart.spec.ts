// The Orders page's chart of orders per minute: Chart.js mocked (jsdom has no canvas), the page
// and its store on the fake backend.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, RouterLinkStub, type VueWrapper } from '@vue/test-utils'
import type { OrderActivity } from '../backend'
import { applyLocale } from '../i18n'
import { backendPlugins, FakeBackend } from './fakeBackend'

interface FakeChart {
  config: { type: string; data: { labels: string[]; datasets: { label: string; data: number[] }[] } }
  data: FakeChart['config']['data']
  update: ReturnType<typeof vi.fn>
  destroy: ReturnType<typeof vi.fn>
}

const charts: FakeChart[] = []

vi.mock('chart.js', () => {
  class Chart {
    static register = vi.fn()
    data: unknown
    update = vi.fn()
    destroy = vi.fn()
    constructor(
      _ctx: unknown,
      public config: { data: unknown },
    ) {
      this.data = config.data
      charts.push(this as unknown as FakeChart)
    }
  }
  const parts = ['CategoryScale', 'Legend', 'LinearScale', 'LineController', 'LineElement', 'PointElement', 'Tooltip']
  return { Chart, ...Object.fromEntries(parts.map((p) => [p, { id: p }])) }
})

const { default: OrdersActivityChart } = await import('../components/orders/OrdersActivityChart.vue')
const { default: OrdersView } = await import('../views/OrdersView.vue')

/** `n` minutes from 02:00Z, each with the counts `at(i)` gives (zeros by default). */
function minutes(n: number, at: (i: number) => Partial<OrderActivity> = () => ({})): OrderActivity[] {
  const start = Date.parse('2026-01-10T02:00:00Z')
  return Array.from({ length: n }, (_, i) => ({
    at: new Date(start + i * 60_000).toISOString().replace('.000Z', 'Z'),
    placed: 0,
    paid: 0,
    expired: 0,
    cancelled: 0,
    ...at(i),
  }))
}

const NOW = Date.parse('2026-01-10T02:59:30Z')
let wrapper: VueWrapper | undefined

beforeEach(() => {
  charts.length = 0
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue({} as CanvasRenderingContext2D)
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe('OrdersActivityChart', () => {
  it('says it is collecting until the first points, then draws the four lines, labelled in the zone', async () => {
    const w = mount(OrdersActivityChart, { props: { points: null, zone: 'Asia/Shanghai' } })
    const empty = w.get('[data-testid="orders-chart-empty"]')
    expect(empty.attributes('data-state')).toBe('collecting')
    expect(empty.text()).toBe('Collecting: the chart shows each minute as it passes.')

    const points = minutes(60, (i) => (i === 59 ? { placed: 3, paid: 2, expired: 1 } : i === 10 ? { cancelled: 1 } : {}))
    await w.setProps({ points })
    expect(w.find('[data-testid="orders-chart-empty"]').exists()).toBe(false)
    const chart = charts[0]!
    expect(charts).toHaveLength(1)
    expect(chart.config.type).toBe('line')
    expect(chart.update).toHaveBeenCalledWith('none')
    const { labels, datasets } = chart.data
    expect(labels).toHaveLength(60)
    expect([labels[0], labels[59]]).toEqual(['10:00', '10:59']) // 02:00Z in Asia/Shanghai
    expect(datasets.map((d) => d.label)).toEqual(['placed', 'paid', 'expired', 'cancelled by staff'])
    expect(datasets.map((d) => d.data[59])).toEqual([3, 2, 1, 0])
    expect(datasets[3]!.data[10]).toBe(1)
    expect(w.get('[data-testid="orders-chart"]').attributes('data-totals')).toBe('3,2,1,1')
    w.unmount()
    expect(chart.destroy).toHaveBeenCalledTimes(1)
  })

  it('explains a quiet hour instead of flat lines, in Chinese too', async () => {
    const w = mount(OrdersActivityChart, { props: { points: minutes(60), zone: 'UTC' } })
    expect(w.get('[data-testid="orders-chart-empty"]').attributes('data-state')).toBe('quiet')
    expect(w.get('[data-testid="orders-chart-empty"]').text()).toContain('No orders placed, paid, expired or cancelled in the last hour')
    applyLocale('zh-CN')
    await flushPromises()
    expect(w.get('[data-testid="orders-chart-empty"]').text()).toContain('最近一小时没有下单、支付、超时或取消的订单')
    expect(charts[0]!.data.datasets.map((d) => d.label)).toEqual(['下单', '支付', '超时取消', '人工取消'])
    w.unmount()
  })
})

describe('The Orders page’s chart', () => {
  async function mountPage(backend: FakeBackend) {
    const mounted = backendPlugins(backend)
    wrapper = mount(OrdersView, { global: { plugins: mounted.plugins, stubs: { RouterLink: RouterLinkStub } } })
    await flushPromises()
    return wrapper
  }

  it('asks for the last 60 minutes, again on order events (a burst folded), and moves on by itself as minutes end', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] })
    vi.setSystemTime(NOW)
    const backend = new FakeBackend()
    backend.activity = minutes(60, (i) => (i === 0 ? { expired: 1 } : i === 59 ? { placed: 1 } : {}))
    const w = await mountPage(backend)
    const chart = () => w.get('[data-testid="orders-chart"]')
    expect(backend.callsTo('orders_activity')).toEqual([{ minutes: 60 }])
    expect(chart().attributes('data-totals')).toBe('1,0,1,0')

    // An order paid: the core says orders changed, three times in a burst.
    backend.activity = minutes(60, (i) => (i === 0 ? { expired: 1 } : i === 59 ? { placed: 1, paid: 1 } : {}))
    backend.push({ kind: 'orders_changed' })
    backend.push({ kind: 'orders_changed' })
    backend.push({ kind: 'orders_changed' })
    await flushPromises()
    expect(backend.callsTo('orders_activity').length).toBeLessThanOrEqual(3)
    expect(chart().attributes('data-totals')).toBe('1,1,1,0')

    // 02:59:30 → 03:00:05: a minute ended. The chart moves on without asking the core: 03:00
    // starts at zero, 02:00 (its expired order) leaves the window.
    const asked = backend.callsTo('orders_activity').length
    await vi.advanceTimersByTimeAsync(35_000)
    expect(backend.callsTo('orders_activity')).toHaveLength(asked)
    expect(chart().attributes('data-points')).toBe('60')
    expect(chart().attributes('data-totals')).toBe('1,1,0,0')
    const { labels } = charts[0]!.data
    expect([labels[0], labels[59]]).toEqual(['03:01', '04:00']) // 02:01Z … 03:00Z in Europe/Berlin
  })

  it('shows why it cannot load, and loads on retry', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] })
    vi.setSystemTime(NOW)
    const backend = new FakeBackend()
    const real = backend.ordersActivity.bind(backend)
    let fail = true
    backend.ordersActivity = async (m: number) => {
      if (fail) throw { code: 'database_unavailable', message: 'the database is down', params: {} }
      return real(m)
    }
    backend.activity = minutes(60, () => ({ placed: 1 }))
    const w = await mountPage(backend)
    const banner = w.get('[data-testid="error-banner"][data-code="database_unavailable"]')
    expect(banner.text()).toContain('Could not load the orders per minute:')
    expect(w.get('[data-testid="orders-chart-empty"]').attributes('data-state')).toBe('collecting')
    fail = false
    await banner.get('[data-testid="error-retry"]').trigger('click')
    await flushPromises()
    expect(w.text()).not.toContain('Could not load the orders per minute:')
    expect(w.get('[data-testid="orders-chart"]').attributes('data-totals')).toBe('60,0,0,0')
  })
})
