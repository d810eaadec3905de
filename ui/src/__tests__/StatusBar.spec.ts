import { beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import StatusBar from '../components/StatusBar.vue'
import { useHealthStore } from '../stores/health'
import { backendPlugins, component, FakeBackend, report } from './fakeBackend'

let backend: FakeBackend

function mountBar() {
  const { plugins } = backendPlugins(backend)
  const wrapper = mount(StatusBar, { global: { plugins } })
  return { wrapper, health: useHealthStore() }
}

const text = (el: { text(): string }) => el.text().replace(/\s+/g, ' ')

beforeEach(() => {
  backend = new FakeBackend()
})

describe('StatusBar', () => {
  it('says "checking…" with status unknown before any report', () => {
    const { wrapper } = mountBar()
    for (const id of ['status-database', 'status-redis']) {
      const item = wrapper.get(`[data-testid="${id}"]`)
      expect(item.attributes('data-status')).toBe('unknown')
      expect(item.text()).toContain('checking…')
      expect(item.find('[data-testid="status-reason"]').exists()).toBe(false)
    }
    expect(wrapper.find('[data-testid="status-checked-at"]').exists()).toBe(false)
  })

  it('shows healthy components with their latency and target', async () => {
    backend.health = report({
      database: component({ latency_ms: 3, target: 'mysql://opsdeck:***@db:3306/opsdeck' }),
      redis: component({ latency_ms: 1.4, target: 'redis://:***@127.0.0.1:6379/0' }),
      checked_at: '2025-01-15T10:00:00Z',
    })
    const { wrapper, health } = mountBar()
    await health.start()
    await flushPromises()

    const db = wrapper.get('[data-testid="status-database"]')
    expect(db.attributes('data-status')).toBe('ok')
    expect(text(db)).toContain('Database: healthy · 3 ms')
    expect(db.text()).toContain('mysql://opsdeck:***@db:3306/opsdeck')
    expect(db.find('[data-testid="status-reason"]').exists()).toBe(false)

    const redis = wrapper.get('[data-testid="status-redis"]')
    expect(redis.attributes('data-status')).toBe('ok')
    expect(text(redis)).toContain('Redis: healthy · 1 ms')

    const checked = wrapper.get('[data-testid="status-checked-at"] time')
    expect(checked.attributes('datetime')).toBe('2025-01-15T10:00:00Z')
  })

  it('shows an unreachable Redis with the reason text, and follows pushed reports', async () => {
    const { wrapper, health } = mountBar()
    await health.start()
    await flushPromises()
    expect(wrapper.get('[data-testid="status-redis"]').attributes('data-status')).toBe('ok')

    backend.push({
      kind: 'health',
      report: report({
        redis: component({
          status: 'unreachable',
          reason: 'Connection refused (os error 111)',
          latency_ms: null,
          target: 'redis://127.0.0.1:6379/0',
        }),
        checked_at: '2025-01-15T10:00:10Z',
      }),
    })
    await flushPromises()

    const redis = wrapper.get('[data-testid="status-redis"]')
    expect(redis.attributes('data-status')).toBe('unreachable')
    expect(redis.get('[data-testid="status-reason"]').text()).toBe('Connection refused (os error 111)')
    expect(text(redis)).toContain('Redis: unreachable — Connection refused (os error 111)')
    expect(redis.text()).toContain('redis://127.0.0.1:6379/0')
    // The database stays healthy.
    expect(wrapper.get('[data-testid="status-database"]').attributes('data-status')).toBe('ok')

    // …and recovers.
    backend.push({ kind: 'health', report: report({ checked_at: '2025-01-15T10:00:20Z' }) })
    await flushPromises()
    expect(wrapper.get('[data-testid="status-redis"]').attributes('data-status')).toBe('ok')
    expect(wrapper.find('[data-testid="status-redis"] [data-testid="status-reason"]').exists()).toBe(false)
  })

  it('shows a reason element for "unknown" too', async () => {
    backend.health = report({ database: component({ status: 'unknown', reason: 'not checked yet', latency_ms: null }) })
    const { wrapper, health } = mountBar()
    await health.start()
    await flushPromises()
    const db = wrapper.get('[data-testid="status-database"]')
    expect(db.attributes('data-status')).toBe('unknown')
    expect(db.get('[data-testid="status-reason"]').text()).toBe('not checked yet')
  })

  it('shows why the first health report failed, as a message', async () => {
    backend.health = { reject: { code: 'internal', message: 'health checker stopped' } }
    const { wrapper, health } = mountBar()
    await health.start()
    await flushPromises()
    expect(wrapper.get('[data-testid="status-error"]').text()).toContain('Something went wrong inside OpsDeck')
  })
})
