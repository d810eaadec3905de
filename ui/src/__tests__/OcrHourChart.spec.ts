// The Overview's OCR chart while it collects its first samples (issue 19, item 4): the core
// samples the queue every 30 s, so for the first minutes the chart is a few dots at its left;
// a note says what it collects and that it fills over the hour. Chart.js is mocked (no canvas).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { nextTick } from 'vue'
import type { DepthSample } from '../backend'
import { applyLocale } from '../i18n'

/** Every Chart the component made, to check it destroys them. */
const made = vi.hoisted(() => [] as { destroy: () => void }[])

vi.mock('chart.js', () => {
  class Chart {
    static register = vi.fn()
    data: unknown
    options: unknown
    update = vi.fn()
    destroy = vi.fn()
    constructor(_ctx: unknown, config: { data: unknown; options: unknown }) {
      this.data = config.data
      this.options = config.options
      made.push(this)
    }
  }
  const parts = ['CategoryScale', 'Filler', 'Legend', 'LinearScale', 'LineController', 'LineElement', 'PointElement', 'Tooltip']
  return { Chart, ...Object.fromEntries(parts.map((p) => [p, { id: p }])) }
})

const { default: OcrHourChart } = await import('../components/overview/OcrHourChart.vue')

/** `n` samples 30 s apart, as the core takes them. */
function samples(n: number): DepthSample[] {
  const start = Date.parse('2026-01-10T02:00:00Z')
  return Array.from({ length: n }, (_, i) => ({
    at: new Date(start + i * 30_000).toISOString().replace('.000Z', 'Z'),
    depth: i,
    calls_per_second: 0.5,
  }))
}

const collecting = (w: ReturnType<typeof mount>) => w.find('[data-testid="overview-ocr-chart-collecting"]')
const empty = (w: ReturnType<typeof mount>) => w.find('[data-testid="overview-ocr-chart-empty"]')

beforeEach(() => {
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue({} as CanvasRenderingContext2D)
})

afterEach(() => {
  vi.restoreAllMocks()
})

describe('OcrHourChart while it collects', () => {
  it('says no sample was taken yet, and how often one is', () => {
    const w = mount(OcrHourChart, { props: { history: [], cap: 2, zone: 'UTC' } })
    expect(empty(w).text()).toBe('No samples yet: the queue is sampled every 30 seconds, and the chart fills over the first hour.')
    expect(collecting(w).exists()).toBe(false)
  })

  it('explains its first few dots: what a point is, how often one comes, how many so far', async () => {
    const w = mount(OcrHourChart, { props: { history: samples(1), cap: 2, zone: 'UTC' } })
    expect(empty(w).exists()).toBe(false)
    expect(collecting(w).text()).toBe('Collecting: a point every 30 seconds; the chart fills over the first hour (1 so far).')
    expect(collecting(w).attributes('title')).toBe(
      'Each point: the requests waiting, and the Baidu calls per second over those 30 seconds.',
    )
    await w.setProps({ history: samples(9) })
    expect(collecting(w).text()).toContain('(9 so far)')
    // Five minutes' worth: a line to read, no note over it.
    await w.setProps({ history: samples(10) })
    expect(collecting(w).exists()).toBe(false)
    expect(empty(w).exists()).toBe(false)
  })

  it('says it in Chinese too', async () => {
    applyLocale('zh-CN')
    const w = mount(OcrHourChart, { props: { history: samples(3), cap: 2, zone: 'Asia/Shanghai' } })
    await nextTick()
    expect(collecting(w).text()).toBe('正在采集：每 30 秒一个点，图表在第一个小时内逐渐填满（目前 3 个点）。')
    expect(collecting(w).attributes('title')).toBe('每个点：排队中的请求数，以及这 30 秒内平均每秒调用百度的次数。')
    await w.setProps({ history: [] })
    expect(empty(w).text()).toBe('暂无采样：每 30 秒采样一次队列，图表在第一个小时内逐渐填满。')
  })
})

describe('OcrHourChart leaving the page', () => {
  it('destroys its Chart: one kept per visit to the Overview would keep its canvas and data (issue 19, item 6)', () => {
    made.length = 0
    for (let visit = 0; visit < 3; visit++) {
      const w = mount(OcrHourChart, { props: { history: samples(20), cap: 2, zone: 'UTC' } })
      w.unmount()
    }
    expect(made).toHaveLength(3)
    for (const chart of made) expect(chart.destroy).toHaveBeenCalledTimes(1)
  })

  it('empties its canvas, so WebKit frees its pixels now rather than at its next garbage collection', () => {
    const w = mount(OcrHourChart, { props: { history: samples(20), cap: 2, zone: 'UTC' } })
    const canvas = w.get('canvas').element as HTMLCanvasElement
    w.unmount()
    expect([canvas.width, canvas.height]).toEqual([0, 0])
  })
})
