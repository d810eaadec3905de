import { beforeEach, describe, expect, it } from 'vitest'
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import { flushPromises } from '@vue/test-utils'
import { provideBackend } from '../backend'
import { useHealthStore } from '../stores/health'
import { component, FakeBackend, report } from './fakeBackend'

let backend: FakeBackend

function store() {
  // Pinia runs setup stores in the app's injection context, so the store
  // finds the backend the same way it does in the real app.
  const app = createApp({ render: () => null })
  provideBackend(app, backend)
  app.use(createPinia())
  return useHealthStore()
}

beforeEach(() => {
  backend = new FakeBackend()
})

describe('health store', () => {
  it('loads the initial report, then replaces it with a pushed health event', async () => {
    const initial = report({ checked_at: '2025-01-15T10:00:00Z' })
    backend.health = initial
    const health = store()
    expect(health.report).toBeNull()

    await health.start()
    expect(backend.healthCalls).toBe(1)
    expect(backend.listenerCount).toBe(1)
    expect(health.report).toEqual(initial)
    expect(health.allHealthy).toBe(true)

    const pushed = report({
      redis: component({ status: 'unreachable', reason: 'connection refused', latency_ms: null }),
      checked_at: '2025-01-15T10:00:30Z',
    })
    backend.push({ kind: 'health', report: pushed })
    expect(health.report).toEqual(pushed)
    expect(health.allHealthy).toBe(false)
    expect(health.lastCheckedAt).toBe('2025-01-15T10:00:30Z')
  })

  it('stop() unsubscribes and later events are ignored', async () => {
    const health = store()
    await health.start()
    expect(backend.listenerCount).toBe(1)

    health.stop()
    expect(backend.unlistenCalls).toBe(1)
    expect(backend.listenerCount).toBe(0)

    const before = health.report
    backend.push({ kind: 'health', report: report({ checked_at: '2025-01-15T11:00:00Z' }) })
    expect(health.report).toBe(before)
  })

  it('start() twice subscribes once', async () => {
    const health = store()
    await Promise.all([health.start(), health.start()])
    await health.start()
    expect(backend.subscribeCalls).toBe(1)
    expect(backend.healthCalls).toBe(1)
  })

  it('stop() while start() is still pending drops the subscription when it lands', async () => {
    const health = store()
    const starting = health.start()
    health.stop()
    await starting
    await flushPromises()
    expect(backend.listenerCount).toBe(0)
    expect(backend.unlistenCalls).toBe(1)
  })

  it('does not let an older fetched report overwrite a newer pushed one', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const old = report({ checked_at: '2025-01-15T10:00:00Z' })
    const newer = report({ database: component({ latency_ms: 9 }), checked_at: '2025-01-15T10:00:05Z' })
    backend.healthReport = async () => {
      await gate
      return old
    }
    const health = store()
    const starting = health.start()
    await flushPromises()
    backend.push({ kind: 'health', report: newer })
    release()
    await starting
    expect(health.report).toEqual(newer)
  })

  it('keeps a failed initial fetch as a BackendError, cleared by the next event', async () => {
    backend.health = { reject: { code: 'internal', message: 'health task not running' } }
    const health = store()
    await health.start()
    expect(health.report).toBeNull()
    expect(health.error).toEqual({ code: 'internal', message: 'health task not running' })

    backend.push({ kind: 'health', report: report() })
    expect(health.error).toBeNull()
    expect(health.report).not.toBeNull()
  })
})
