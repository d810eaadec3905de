import { beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import OverviewView from '../views/OverviewView.vue'
import { useHealthStore } from '../stores/health'
import { applyLocale } from '../i18n'
import { createMemoryHistory } from 'vue-router'
import { createAppRouter } from '../router'
import { backendPlugins, FakeBackend, overview } from './fakeBackend'

// The Overview's live figures: fetched when the page opens, replaced by what the core pushes,
// each linking to its page, in English and Chinese.

let backend: FakeBackend

async function mountView() {
  const { plugins } = backendPlugins(backend)
  // The tiles and cards link to their pages: the page needs a router.
  const router = createAppRouter(createMemoryHistory())
  const wrapper = mount(OverviewView, { global: { plugins: [...plugins, router] } })
  await useHealthStore().start()
  await flushPromises()
  return wrapper
}

const tileValue = (w: Awaited<ReturnType<typeof mountView>>, name: string) =>
  w.get(`[data-testid="tile-${name}"] [data-testid="tile-value"]`).text()

beforeEach(() => {
  backend = new FakeBackend()
})

describe('Overview figures', () => {
  it('shows the OCR queue, orders, failures and instances, each linking to its page', async () => {
    const w = await mountView()
    expect(tileValue(w, 'ocr-waiting')).toBe('4') // 3 pending + 1 in flight
    expect(tileValue(w, 'ocr-rate')).toBe('1.5')
    expect(w.get('[data-testid="tile-ocr-rate"]').text()).toContain('cap 2/s')
    expect(tileValue(w, 'ocr-done')).toBe('12')
    expect(tileValue(w, 'orders-pending')).toBe('5')
    expect(w.get('[data-testid="tile-orders-pending"]').text()).toContain('2 expire in 5 min')
    expect(tileValue(w, 'orders-cancelled')).toBe('3')
    expect(w.get('[data-testid="tile-orders-cancelled"]').text()).toContain('9 paid, 1 found paid late')

    expect(w.get('[data-testid="tile-ocr-waiting"]').attributes('href')).toContain('/ocr')
    expect(w.get('[data-testid="tile-orders-pending"]').attributes('href')).toContain('/orders')

    expect(w.get('[data-testid="overview-ocr-chart"]').attributes('data-samples')).toBe('2')
    expect(w.get('[data-testid="overview-cancelled"]').text()).toContain('O20261128-0001')
    const failures = w.get('[data-testid="overview-failures"]')
    expect(failures.text()).toContain('ping-shop')
    expect(failures.text()).toContain('GET https://shop.example/ping answered 503.')
    const instances = w.get('[data-testid="overview-instances"]')
    expect(instances.text()).toContain('Instances online (2)')
    expect(instances.get('[data-instance="inst-7f3a"]').text()).toContain('order-expiry-sweep')
    expect(instances.get('[data-instance="inst-0b12"]').text()).toContain('no run in progress')
    // Dates as the other pages write them, in the app's zone (Berlin): not 2026-11-28 10:00:00.
    expect(instances.get('[data-instance="inst-0b12"]').text()).toContain('up since Nov 28, 2026, 11:00:00')
    expect(failures.text()).toContain('Nov 28, 2026, 11:00:00')
    expect(w.get('[data-testid="overview-ocr-recent"]').text()).toContain('11:00:00')
    expect(w.find('[data-testid="overview-sandbox"]').exists()).toBe(false)
  })

  it('takes the figures the core pushes, and ignores an older answer', async () => {
    const w = await mountView()
    const pushed = overview({ at: '2026-11-28T10:00:05Z', sandbox: true })
    pushed.orders = { ...pushed.orders, pending: 17, cancelled_last_hour: 8 }
    backend.push({ kind: 'overview', overview: pushed })
    await flushPromises()
    expect(tileValue(w, 'orders-pending')).toBe('17')
    expect(tileValue(w, 'orders-cancelled')).toBe('8')
    expect(w.get('[data-testid="overview-sandbox"]').text()).toBe('sandbox mode')

    backend.push({ kind: 'overview', overview: overview({ at: '2026-11-28T09:00:00Z' }) })
    await flushPromises()
    expect(tileValue(w, 'orders-pending')).toBe('17')
  })

  it('says when the figures cannot be had, and retries', async () => {
    backend.overviewData = { reject: { code: 'database_unavailable', message: 'database unreachable' } }
    const w = await mountView()
    expect(w.get('[data-testid="error-message"]').text()).toContain('The database is not reachable.')
    backend.overviewData = overview()
    await w.get('[data-testid="error-retry"]').trigger('click')
    await flushPromises()
    expect(tileValue(w, 'orders-pending')).toBe('5')
  })

  it('speaks Chinese', async () => {
    applyLocale('zh-CN')
    backend.overviewData = overview({ sandbox: true })
    const w = await mountView()
    expect(w.get('[data-testid="page-title"]').text()).toBe('总览')
    expect(w.get('[data-testid="overview-sandbox"]').text()).toBe('沙盒模式')
    expect(w.get('[data-testid="tile-orders-pending"]').text()).toContain('5 分钟内有 2 个到期')
    // yyyy-MM-dd, as Chinese consoles write dates.
    expect(w.get('[data-instance="inst-0b12"]').text()).toContain('2026-11-28 11:00:00')
    applyLocale('en')
  })
})
