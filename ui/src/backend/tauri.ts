// The real Backend: Tauri 2 IPC to the OpsDeck core. The only module that
// imports @tauri-apps/api.
import { invoke } from '@tauri-apps/api/core'
import { listen } from '@tauri-apps/api/event'
import { toBackendError, type Backend } from './index'
import type { AppInfo, AuditPage, AuditQuery, CoreEvent, HealthReport } from './types'

export const CORE_EVENT = 'core-event'

/** True when running inside the Tauri WebView (its IPC bridge is present). */
export function isTauriRuntime(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args)
  } catch (e) {
    throw toBackendError(e)
  }
}

export function createTauriBackend(): Backend {
  return {
    healthReport: () => call<HealthReport>('health_report'),
    appInfo: () => call<AppInfo>('app_info'),
    // Tauri 2 maps camelCase argument keys to the Rust snake_case params
    // (`limit`, `before_id`).
    auditList: (q: AuditQuery) =>
      call<AuditPage>('audit_list', { limit: q.limit, beforeId: q.before_id ?? null }),
    async onCoreEvent(cb: (e: CoreEvent) => void) {
      try {
        return await listen<CoreEvent>(CORE_EVENT, (event) => cb(event.payload))
      } catch (e) {
        throw toBackendError(e)
      }
    },
  }
}
