// The chart component's use of Chart.js (mocked here: jsdom has no canvas to draw on).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { nextTick } from 'vue'
import { applyLocale } from '../i18n'
import { callSamples } from './fakeBackend'

interface FakeChart {
  config: { data: { labels: string[]; datasets: { type: string; data: number[] }[] } }
  data: FakeChart['config']['data']
  options: { scales: { y: { suggestedMax: number } } }
  update: ReturnType<typeof vi.fn>
  destroy: ReturnType<typeof vi.fn>
}

const charts: FakeChart[] = []

vi.mock('chart.js', () => {
  class Chart {
    static register = vi.fn()
    data: unknown
    options: unknown
    update = vi.fn()
    destroy = vi.fn()
    constructor(
      _ctx: unknown,
      public config: { data: unknown; options: unknown },
    ) {
      this.data = config.data
      this.options = config.options
      charts.push(this as unknown as FakeChart)
    }
  }
  const parts = ['BarController', 'BarElement', 'CategoryScale', 'Legend', 'LinearScale', 'LineController', 'LineElement', 'PointElement', 'Tooltip']
  return { Chart, ...Object.fromEntries(parts.map((p) => [p, { id: p }])) }
})

const { default: OcrCallsChart } = await import('../components/ocr/OcrCallsChart.vue')

beforeEach(() => {
  charts.length = 0
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue({} as CanvasRenderingContext2D)
})

afterEach(() => {
  vi.restoreAllMocks()
})

describe('OcrCallsChart', () => {
  it('draws the calls per second as bars against the cap as a line, labelled in the zone', () => {
    const w = mount(OcrCallsChart, { props: { calls: callSamples((i) => i % 3), cap: 2, zone: 'Asia/Shanghai' } })
    expect(charts).toHaveLength(1)
    const { labels, datasets } = charts[0]!.config.data
    expect(labels).toHaveLength(60)
    expect(labels[0]).toBe('10:00:00') // 02:00:00Z in Asia/Shanghai
    expect(labels[59]).toBe('10:00:59')
    expect(datasets.map((d) => d.type)).toEqual(['bar', 'line'])
    expect(datasets[0]!.data.slice(0, 4)).toEqual([0, 1, 2, 0])
    expect(new Set(datasets[1]!.data)).toEqual(new Set([2]))
    expect(w.get('[data-testid="ocr-chart"]').attributes('data-cap')).toBe('2')
    const canvas = w.get('canvas').element as HTMLCanvasElement
    w.unmount()
    expect(charts[0]!.destroy).toHaveBeenCalledTimes(1)
    expect([canvas.width, canvas.height], 'an empty canvas: WebKit frees its pixels now, not at its next GC').toEqual([0, 0])
  })

  it('redraws in place when new figures arrive', async () => {
    const w = mount(OcrCallsChart, { props: { calls: callSamples(1), cap: 2, zone: 'UTC' } })
    await w.setProps({ calls: callSamples(3), cap: 5 })
    const chart = charts[0]!
    expect(charts).toHaveLength(1)
    expect(chart.update).toHaveBeenCalledWith('none')
    expect(chart.data.datasets[0]!.data[0]).toBe(3)
    expect(chart.data.datasets[1]!.data[0]).toBe(5)
    expect(chart.options.scales.y.suggestedMax).toBe(6)
    w.unmount()
  })

  it('says why the plot is empty while no call was made in the minute, in either language', async () => {
    const w = mount(OcrCallsChart, { props: { calls: callSamples(0), cap: 2, zone: 'UTC' } })
    expect(w.get('[data-testid="ocr-chart-quiet"]').text()).toBe(
      'No calls to Baidu in the last minute: each second shows here as it passes.',
    )
    applyLocale('zh-CN')
    await nextTick()
    expect(w.get('[data-testid="ocr-chart-quiet"]').text()).toBe('近 1 分钟没有调用百度：每一秒的调用次数都会显示在这里。')
    await w.setProps({ calls: callSamples((i) => (i === 59 ? 1 : 0)) })
    expect(w.find('[data-testid="ocr-chart-quiet"]').exists()).toBe(false)
    w.unmount()
  })
})
