// Shapes exchanged with the OpsDeck core. These mirror the Rust side's
// serde types exactly (snake_case field names included); change them only
// together with the core.

export type ComponentStatus = 'ok' | 'unreachable' | 'unknown'

export interface ComponentHealth {
  status: ComponentStatus
  /** Why the component is not ok; null when it is. */
  reason: string | null
  latency_ms: number | null
  /** Where the core looked, with credentials masked by the core. */
  target: string
}

export interface HealthReport {
  database: ComponentHealth
  redis: ComponentHealth
  /** RFC 3339 */
  checked_at: string
}

export interface AppInfo {
  version: string
  instance_id: string
  timezone: string
  redis_prefix: string
  database_backend: 'sqlite' | 'mysql'
  data_dir: string
}

export interface AuditEntry {
  id: number
  who: string
  action: string
  target: string
  detail: unknown | null
  /** RFC 3339 */
  at: string
}

export interface AuditPage {
  entries: AuditEntry[]
  /** Pass as `before_id` to get the next (older) page; null when there is none. */
  next_before_id: number | null
}

export interface AuditQuery {
  limit: number
  before_id?: number | null
}

/** Pushed by the core on the `core-event` channel. Later issues add kinds. */
export type CoreEvent = { kind: 'health'; report: HealthReport }

/** What a failed command rejects with. */
export interface BackendError {
  code: string
  message: string
}
