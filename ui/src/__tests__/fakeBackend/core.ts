// The fake's base: the call log, failures, authorisation, health and the event subscription.
import {
  toBackendError,
  type AppInfo,
  type AuditPage,
  type AuditQuery,
  type BackendError,
  type ComponentHealth,
  type CoreEvent,
  type HealthReport,
  type Staff,
} from '../../backend'
import { ACTIONS, ADMIN_ACTIONS, type Command } from './commands'

type Listener = (e: CoreEvent) => void

/** Who the fake core names for actions from the window. */
export const FAKE_ACTOR = 'tester@desktop'

export const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T))

/** What every command shares: the call log, scripted failures, the session actions are
 *  authorised against, health, app info, the audit log, and the core event subscription. */
export class FakeCore {
  /** What healthReport() answers; an Error/object/string makes it reject with that. */
  health: HealthReport | { reject: unknown } = report()
  info: AppInfo | { reject: unknown } = appInfo()
  /** Answers auditList(); receives the query as the UI passed it. */
  audit: (q: AuditQuery) => AuditPage | { reject: unknown } = () => ({ entries: [], next_before_id: null })

  readonly auditCalls: AuditQuery[] = []

  /** Who is signed in (what authSession() answers): an admin unless a test says otherwise. */
  session: Staff | null = staffMember()

  /** Makes a command reject with the given value instead of answering. */
  failures: Partial<Record<Command, unknown>> = {}
  /** Every command but health and app info, with its arguments as the Tauri backend would pass them. */
  readonly calls: { cmd: Command; args?: unknown }[] = []
  healthCalls = 0
  appInfoCalls = 0
  subscribeCalls = 0
  unlistenCalls = 0
  private readonly listeners = new Set<Listener>()
  private readonly refusedListeners = new Set<(e: BackendError) => void>()

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

  /** The arguments of each call to `cmd`, in order. */
  callsTo(cmd: Command): unknown[] {
    return this.calls.filter((c) => c.cmd === cmd).map((c) => c.args)
  }

  protected record(cmd: Command, args?: unknown): void {
    this.calls.push(args === undefined ? { cmd } : { cmd, args: clone(args) })
    try {
      if (cmd in this.failures) throw this.failures[cmd]
      this.authorise(cmd)
    } catch (e) {
      // As the Tauri backend does: a refusal for who is asking is told to onRefused's listeners.
      const error = toBackendError(e)
      if (error.code === 'unauthenticated' || error.code === 'forbidden') this.refusedListeners.forEach((cb) => cb(error))
      throw e
    }
  }

  /** Refuses actions as the core does: without a session, and to viewers (roles and sessions to non-admins). */
  private authorise(cmd: Command): void {
    const adminOnly = ADMIN_ACTIONS[cmd]
    const action = adminOnly ?? ACTIONS[cmd]
    if (action === undefined) return
    const role = this.session?.role
    if (role === undefined) throw { code: 'unauthenticated', message: 'sign in first' }
    if (role === 'viewer' || (adminOnly !== undefined && role !== 'admin')) {
      throw {
        code: 'forbidden',
        message: `${role === 'viewer' ? 'a viewer' : 'an operator'} cannot ${action}`,
        params: { role, action: action.toLowerCase().replace(/[\s-]+/g, '_') },
      }
    }
  }

  onRefused(cb: (e: BackendError) => void): () => void {
    this.refusedListeners.add(cb)
    return () => {
      this.refusedListeners.delete(cb)
    }
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

export function answer<T>(v: T | { reject: unknown }): T {
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
    sandbox: false,
    providers: [
      { name: 'baidu', state: 'configured', keys: ['baidu_api_key', 'baidu_secret_key'] },
      { name: 'alipay', state: 'absent', keys: ['alipay_app_id', 'alipay_private_key', 'alipay_public_key'] },
    ],
    ...overrides,
  }
}

/** A signed-in admin, by default. */
export function staffMember(overrides: Partial<Staff> = {}): Staff {
  return {
    user_id: 1,
    name: 'Alice Admin',
    role: 'admin',
    provider: 'dingtalk',
    avatar: null,
    signed_in_at: '2026-01-10T01:00:00Z',
    ...overrides,
  }
}

