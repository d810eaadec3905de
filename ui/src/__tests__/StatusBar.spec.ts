import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import StatusBar from '../components/StatusBar.vue'
import type { ConnectionStatus } from '../backend'
import { applyLocale } from '../i18n'
import { ZONE_STORAGE_KEY } from '../shopZone'
import { machineZone } from '../zoned'
import { useAppStore } from '../stores/app'
import { useConnectionStore } from '../stores/connection'
import { useHealthStore } from '../stores/health'
import { appInfo, backendPlugins, component, connectionStatus, FakeBackend, remoteConnection, report } from './fakeBackend'

let backend: FakeBackend

function mountBar() {
  const { plugins } = backendPlugins(backend)
  const wrapper = mount(StatusBar, { global: { plugins } })
  return { wrapper, health: useHealthStore(), connection: useConnectionStore() }
}

const text = (el: { text(): string }) => el.text().replace(/\s+/g, ' ')

beforeEach(() => {
  backend = new FakeBackend()
})
afterEach(() => {
  localStorage.removeItem(ZONE_STORAGE_KEY)
  applyLocale('en')
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

describe('StatusBar: where the console works', () => {
  async function started() {
    const bar = mountBar()
    await bar.connection.start()
    await flushPromises()
    return bar
  }
  const state = (w: ReturnType<typeof mountBar>['wrapper']) => w.get('[data-testid="connection-state"]')

  it('shows nothing of it before the shell has said', () => {
    const { wrapper } = mountBar()
    expect(wrapper.find('[data-testid="connection-state"]').exists()).toBe(false)
  })

  it('says "This computer" for the embedded core, always connected', async () => {
    backend.connection = connectionStatus()
    const { wrapper } = await started()
    expect(state(wrapper).attributes('data-mode')).toBe('embedded')
    expect(state(wrapper).attributes('data-state')).toBe('connected')
    expect(text(state(wrapper))).toBe('This computer')
    expect(wrapper.find('[data-testid="connection-warning"]').exists()).toBe(false)
  })

  it('names the server by its host, then warns while the link is lost, and clears when it is back', async () => {
    backend.connection = remoteConnection({ server_url: 'https://ops.example.com:8443/' })
    const { wrapper } = await started()
    expect(backend.callsTo('connection_status')).toHaveLength(1)
    expect(state(wrapper).attributes('data-mode')).toBe('remote')
    expect(state(wrapper).attributes('data-state')).toBe('connected')
    expect(wrapper.get('[data-testid="connection-server"]').text()).toBe('Server: ops.example.com:8443')
    expect(wrapper.find('[data-testid="connection-warning"]').exists()).toBe(false)

    backend.pushLink({ state: 'reconnecting', attempt: 3, retry_in_ms: 4000, reason: 'connection refused' })
    await flushPromises()
    expect(state(wrapper).attributes('data-state')).toBe('reconnecting')
    expect(state(wrapper).attributes('data-attempt')).toBe('3')
    const warning = wrapper.get('[data-testid="connection-warning"]')
    expect(warning.text()).toBe('Connection lost — reconnecting (attempt 3)…')
    expect(warning.attributes('role')).toBe('alert')
    expect(warning.attributes('title')).toBe('Why: connection refused')
    // Still says which server it is trying.
    expect(wrapper.get('[data-testid="connection-server"]').text()).toBe('Server: ops.example.com:8443')

    applyLocale('zh-CN')
    await flushPromises()
    expect(wrapper.get('[data-testid="connection-warning"]').text()).toBe('连接已断开 — 正在重新连接（第 3 次尝试）…')
    applyLocale('en')

    backend.pushLink({ state: 'connected' })
    await flushPromises()
    expect(state(wrapper).attributes('data-state')).toBe('connected')
    expect(state(wrapper).attributes('data-attempt')).toBeUndefined()
    expect(wrapper.find('[data-testid="connection-warning"]').exists()).toBe(false)
  })

  it('keeps a push that came while the first status was on its way', async () => {
    backend.connection = remoteConnection()
    let answer: (s: ConnectionStatus) => void = () => {}
    backend.connectionStatus = () => new Promise((resolve) => (answer = resolve))
    const { wrapper, connection } = mountBar()
    const starting = connection.start()
    await flushPromises()
    backend.pushLink({ state: 'reconnecting', attempt: 1, retry_in_ms: 500, reason: 'timed out' })
    answer(remoteConnection()) // asked before the push: older
    await starting
    await flushPromises()
    expect(state(wrapper).attributes('data-state')).toBe('reconnecting')
  })
})

describe('StatusBar: while the server does not answer', () => {
  async function disconnected() {
    backend.connection = remoteConnection({ server_url: 'https://ops.example.com:8443/' })
    backend.health = report({ redis: component({ latency_ms: 2 }), checked_at: '2025-01-15T10:00:00Z' })
    const bar = mountBar()
    await bar.connection.start()
    await bar.health.start()
    await flushPromises()
    expect(bar.wrapper.get('[data-testid="status-database"]').attributes('data-status')).toBe('ok')
    backend.pushLink({ state: 'reconnecting', attempt: 2, retry_in_ms: 2000, reason: 'connection refused' })
    await flushPromises()
    return bar
  }

  it('shows the database and Redis as unknown with their last known state, not as current green', async () => {
    const { wrapper } = await disconnected()
    for (const [id, label] of [
      ['status-database', 'Database'],
      ['status-redis', 'Redis'],
    ] as const) {
      const item = wrapper.get(`[data-testid="${id}"]`)
      expect(item.attributes('data-status')).toBe('unknown')
      expect(item.attributes('data-stale')).toBe('true')
      expect(text(item)).toContain(`${label}: unknown (last known: healthy)`)
      expect(item.text()).not.toContain('ms') // no latency measured now
      expect(item.attributes('title')).toContain('The server does not answer')
      expect(item.find('.status-item__target').exists()).toBe(false) // stale too: in the hover only
    }
    const checked = wrapper.get('[data-testid="status-checked-at"]')
    expect(checked.attributes('data-stale')).toBe('true')
    expect(text(checked)).toMatch(/^Last known at \d{2}:\d{2}:\d{2}/)
    // The server's name is still there, with the warning.
    expect(wrapper.get('[data-testid="connection-server"]').text()).toBe('Server: ops.example.com:8443')
    expect(wrapper.find('[data-testid="connection-warning"]').exists()).toBe(true)

    applyLocale('zh-CN')
    await flushPromises()
    expect(text(wrapper.get('[data-testid="status-database"]'))).toContain('未知（最后已知：正常）')
    expect(text(wrapper.get('[data-testid="status-checked-at"]'))).toMatch(/^最后已知于 /)
  })

  it('does not add a second message for the failed health check: the warning says it', async () => {
    const { wrapper, health } = await disconnected()
    health.error = { code: 'server_unreachable', message: 'refused', params: { server: 'https://ops.example.com:8443' } }
    await flushPromises()
    expect(wrapper.find('[data-testid="status-error"]').exists()).toBe(false)
  })

  it('is current again once the link is back', async () => {
    const { wrapper } = await disconnected()
    backend.pushLink({ state: 'connected' })
    await flushPromises()
    const db = wrapper.get('[data-testid="status-database"]')
    expect(db.attributes('data-status')).toBe('ok')
    expect(db.attributes('data-stale')).toBeUndefined()
    expect(text(db)).toContain('Database: healthy')
    expect(text(wrapper.get('[data-testid="status-checked-at"]'))).toMatch(/^Last check /)
  })
})

describe('StatusBar: the time of the last check', () => {
  it('is in the shop’s zone on the sign-in screen too: the one the core said last, not the machine’s', async () => {
    backend.health = report({ checked_at: '2025-01-15T10:00:00Z' })
    localStorage.setItem(ZONE_STORAGE_KEY, 'Asia/Shanghai')
    const { wrapper, health } = mountBar() // nobody signed in: no AppInfo
    await health.start()
    await flushPromises()
    expect(wrapper.get('[data-testid="status-checked-at"] time').text()).toBe('18:00:00')
    expect(wrapper.get('[data-testid="status-checked-at"]').attributes('title')).toContain('(Asia/Shanghai)')
    expect(wrapper.find('[data-testid="status-zone"]').exists()).toBe(false)
  })

  it('names the machine’s zone on the very first start, when the shop’s is not known yet', async () => {
    backend.health = report({ checked_at: '2025-01-15T10:00:00Z' })
    const { wrapper, health } = mountBar()
    await health.start()
    await flushPromises()
    expect(wrapper.get('[data-testid="status-zone"]').text()).toBe(machineZone())
  })

  it('follows the app’s zone once it is known, and remembers it for the next start', async () => {
    backend.health = report({ checked_at: '2025-01-15T10:00:00Z' })
    backend.info = appInfo({ timezone: 'America/New_York' })
    const { wrapper, health } = mountBar()
    await health.start()
    await useAppStore().load()
    await flushPromises()
    expect(wrapper.get('[data-testid="status-checked-at"] time').text()).toBe('05:00:00')
    expect(localStorage.getItem(ZONE_STORAGE_KEY)).toBe('America/New_York')
  })
})
