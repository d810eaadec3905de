import { beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import OverviewView from '../views/OverviewView.vue'
import { useHealthStore } from '../stores/health'
import { createMemoryHistory } from 'vue-router'
import { createAppRouter } from '../router'
import { appInfo, backendPlugins, component, FakeBackend, report } from './fakeBackend'

let backend: FakeBackend

async function mountView() {
  const { plugins } = backendPlugins(backend)
  // The page links to the others: it needs a router.
  const router = createAppRouter(createMemoryHistory())
  const wrapper = mount(OverviewView, { global: { plugins: [...plugins, router] } })
  await useHealthStore().start()
  await flushPromises()
  return wrapper
}

beforeEach(() => {
  backend = new FakeBackend()
})

describe('OverviewView', () => {
  it('shows both components’ health and the instance details', async () => {
    backend.health = report({
      database: component({ latency_ms: 4, target: 'sqlite:///data/opsdeck.db' }),
      redis: component({ status: 'unreachable', reason: 'timed out after 2s', latency_ms: null, target: 'redis://cache:6379' }),
    })
    backend.info = appInfo({ version: '1.2.3', instance_id: 'opsdeck-eu-1', database_backend: 'mysql' })
    const w = await mountView()

    expect(w.get('[data-testid="page-title"]').text()).toBe('Overview')

    const db = w.get('[data-testid="health-database"]')
    expect(db.attributes('data-status')).toBe('ok')
    expect(db.text()).toContain('4 ms')
    expect(db.text()).toContain('sqlite:///data/opsdeck.db')

    const redis = w.get('[data-testid="health-redis"]')
    expect(redis.attributes('data-status')).toBe('unreachable')
    expect(redis.get('[data-testid="health-reason"]').text()).toBe('timed out after 2s')
    expect(redis.text()).toContain('redis://cache:6379')

    expect(w.get('[data-testid="info-version"]').text()).toBe('1.2.3')
    expect(w.get('[data-testid="info-instance-id"]').text()).toBe('opsdeck-eu-1')
    expect(w.get('[data-testid="info-timezone"]').text()).toBe('Europe/Berlin')
    expect(w.get('[data-testid="info-redis-prefix"]').text()).toBe('opsdeck:')
    expect(w.get('[data-testid="info-database-backend"]').text()).toBe('MySQL')
    expect(w.get('[data-testid="info-data-dir"]').text()).toBe('/var/lib/opsdeck')
  })

  it('puts the health cards right under the figures, in the first screen, not below the charts', async () => {
    const w = await mountView()
    const order = w
      .findAll('[data-testid="overview-tiles"], [data-testid="health-database"], [data-testid="overview-ocr"], [data-testid="app-info"]')
      .map((e) => e.attributes('data-testid'))
    expect(order).toEqual(['overview-tiles', 'health-database', 'overview-ocr', 'app-info'])
  })

  it('shows an AppInfo failure as a message and can retry', async () => {
    backend.info = { reject: 'app_info: state not initialised' }
    const w = await mountView()
    expect(w.get('[data-testid="error-message"]').text()).toBe('app_info: state not initialised')
    expect(w.find('[data-testid="app-info"]').exists()).toBe(false)

    backend.info = appInfo()
    await w.get('[data-testid="error-retry"]').trigger('click')
    await flushPromises()
    expect(backend.appInfoCalls).toBe(2)
    expect(w.find('[data-testid="error-banner"]').exists()).toBe(false)
    expect(w.get('[data-testid="info-version"]').text()).toBe('0.1.0')
  })
})
