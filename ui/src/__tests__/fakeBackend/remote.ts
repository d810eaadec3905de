// The fake's staff sessions (what admins list and revoke) and the desktop shell's connection:
// its mode and link, pushed as the shell does, and the sign-in screen's choice of a server.
import type { ConnectionStatus, LinkState, SessionView } from '../../backend'
import { FakeAccounts } from './accounts'
import { clone } from './core'

type ConnectionListener = (s: ConnectionStatus) => void

export class FakeRemote extends FakeAccounts {
  /** The live staff sessions; revoking one removes it (and signs out when it is the current one). */
  staffSessions: SessionView[] = [
    sessionView({ id: 1, current: true }),
    sessionView({ id: 2, user_id: 2, name: 'Bob Operator', provider: 'qq' }),
  ]

  /** What `connectionStatus()` answers (a test sets it, or `{ reject }`); pushes update it. */
  connection: ConnectionStatus | { reject: unknown } = connectionStatus()
  /** How many times a successful `serverChoose` restarted the app, as the shell would. */
  restarts = 0

  private readonly connectionListeners = new Set<ConnectionListener>()

  get connectionListenerCount(): number {
    return this.connectionListeners.size
  }

  /** Sends the console's mode and link to every current subscriber, as the shell does. */
  pushConnection(s: ConnectionStatus): void {
    this.connection = clone(s)
    for (const l of [...this.connectionListeners]) l(clone(s))
  }

  /** Sends a link state in the current mode. */
  pushLink(link: LinkState): void {
    const now = 'reject' in this.connection ? connectionStatus() : this.connection
    this.pushConnection({ ...now, link })
  }

  async sessionsList(): Promise<SessionView[]> {
    this.record('sessions_list')
    return clone(this.staffSessions)
  }

  async sessionRevoke(id: number): Promise<void> {
    this.record('session_revoke', { id })
    const ended = this.staffSessions.find((s) => s.id === id)
    this.staffSessions = this.staffSessions.filter((s) => s.id !== id)
    // As the core: the revoked token answers nothing any more.
    if (ended?.current) this.session = null
  }

  async connectionStatus(): Promise<ConnectionStatus> {
    this.record('connection_status')
    const c = this.connection
    if ('reject' in c) throw c.reject
    return clone(c)
  }

  async onConnectionState(cb: ConnectionListener): Promise<() => void> {
    this.connectionListeners.add(cb)
    return () => {
      this.connectionListeners.delete(cb)
    }
  }

  async serverChoose(serverUrl: string | null): Promise<void> {
    this.record('server_choose', { serverUrl })
    const now = this.connection
    if (!('reject' in now) && now.fixed_by_config) {
      throw { code: 'invalid_input', message: 'the server is fixed by the configuration', field: 'server_url' }
    }
    this.restarts++
  }
}

export function sessionView(overrides: Partial<SessionView> = {}): SessionView {
  return {
    id: 1,
    user_id: 1,
    name: 'Alice Admin',
    role: 'admin',
    provider: 'dingtalk',
    created_at: '2026-01-10T01:00:00Z',
    last_seen_at: '2026-01-10T02:30:00Z',
    expires_at: '2026-01-10T10:30:00Z',
    current: false,
    ...overrides,
  }
}

/** The embedded core (always connected), by default. */
export function connectionStatus(overrides: Partial<ConnectionStatus> = {}): ConnectionStatus {
  return { mode: 'embedded', server_url: null, fixed_by_config: false, link: { state: 'connected' }, ...overrides }
}

/** A console against a server, connected, by default. */
export function remoteConnection(overrides: Partial<ConnectionStatus> = {}): ConnectionStatus {
  return connectionStatus({ mode: 'remote', server_url: 'https://ops.example.com:8443', ...overrides })
}
