// An in-memory Backend for tests only: canned answers, recorded calls, and a
// way to push core events to whoever subscribed.
import type { App } from 'vue'
import { createPinia, type Pinia } from 'pinia'
import {
  provideBackend,
  type AppInfo,
  type AuditPage,
  type AuditQuery,
  type Backend,
  type ComponentHealth,
  type CoreEvent,
  type HealthReport,
} from '../backend'

type Listener = (e: CoreEvent) => void

export class FakeBackend implements Backend {
  /** What healthReport() answers; an Error/object/string makes it reject with that. */
  health: HealthReport | { reject: unknown } = report()
  info: AppInfo | { reject: unknown } = appInfo()
  /** Answers auditList(); receives the query as the UI passed it. */
  audit: (q: AuditQuery) => AuditPage | { reject: unknown } = () => ({ entries: [], next_before_id: null })

  readonly auditCalls: AuditQuery[] = []
  healthCalls = 0
  appInfoCalls = 0
  subscribeCalls = 0
  unlistenCalls = 0
  private readonly listeners = new Set<Listener>()

  get listenerCount(): number {
    return this.listeners.size
  }

  /** Delivers an event to every current subscriber, as the core would. */
  push(e: CoreEvent): void {
    for (const l of [...this.listeners]) l(e)
  }

  async healthReport(): Promise<HealthReport> {
    this.healthCalls++
    return answer(this.health)
  }

  async appInfo(): Promise<AppInfo> {
    this.appInfoCalls++
    return answer(this.info)
  }

  async auditList(q: AuditQuery): Promise<AuditPage> {
    this.auditCalls.push({ ...q })
    return answer(this.audit(q))
  }

  async onCoreEvent(cb: Listener): Promise<() => void> {
    this.subscribeCalls++
    this.listeners.add(cb)
    let done = false
    return () => {
      if (done) return
      done = true
      this.unlistenCalls++
      this.listeners.delete(cb)
    }
  }
}

function answer<T>(v: T | { reject: unknown }): T {
  if (typeof v === 'object' && v !== null && 'reject' in v) throw v.reject
  return v as T
}

export function component(overrides: Partial<ComponentHealth> = {}): ComponentHealth {
  return { status: 'ok', reason: null, latency_ms: 3, target: 'sqlite:///var/lib/opsdeck/opsdeck.db', ...overrides }
}

export function report(overrides: Partial<HealthReport> = {}): HealthReport {
  return {
    database: component(),
    redis: component({ latency_ms: 1, target: 'redis://:***@127.0.0.1:6379/0' }),
    checked_at: '2025-01-15T10:00:00Z',
    ...overrides,
  }
}

export function appInfo(overrides: Partial<AppInfo> = {}): AppInfo {
  return {
    version: '0.1.0',
    instance_id: 'inst-7f3a',
    timezone: 'Europe/Berlin',
    redis_prefix: 'opsdeck:',
    database_backend: 'sqlite',
    data_dir: '/var/lib/opsdeck',
    ...overrides,
  }
}

/** Plugins for test-utils' `global.plugins`: the fake backend, then a fresh Pinia. */
export function backendPlugins(backend: Backend): { pinia: Pinia; plugins: [{ install(app: App): void }, Pinia] } {
  const pinia = createPinia()
  return { pinia, plugins: [{ install: (app: App) => provideBackend(app, backend) }, pinia] }
}
