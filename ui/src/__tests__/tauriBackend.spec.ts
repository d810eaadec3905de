// The real backend's wiring to Tauri: command names, argument names, the event
// channel, and error normalisation. @tauri-apps/api is mocked here only.
import { beforeEach, describe, expect, it, vi } from 'vitest'

const invoke = vi.fn()
const listen = vi.fn()
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...a: unknown[]) => invoke(...a) }))
vi.mock('@tauri-apps/api/event', () => ({ listen: (...a: unknown[]) => listen(...a) }))

const { createTauriBackend, isTauriRuntime, CORE_EVENT } = await import('../backend/tauri')
const { report } = await import('./fakeBackend')

beforeEach(() => {
  invoke.mockReset()
  listen.mockReset()
})

describe('Tauri backend', () => {
  it('invokes health_report and app_info without arguments', async () => {
    invoke.mockResolvedValueOnce(report()).mockResolvedValueOnce({ version: '1' })
    const b = createTauriBackend()
    await expect(b.healthReport()).resolves.toEqual(report())
    await b.appInfo()
    expect(invoke.mock.calls).toEqual([
      ['health_report', undefined],
      ['app_info', undefined],
    ])
  })

  it('invokes audit_list with limit and camelCase beforeId', async () => {
    invoke.mockResolvedValue({ entries: [], next_before_id: null })
    const b = createTauriBackend()
    await b.auditList({ limit: 50 })
    await b.auditList({ limit: 50, before_id: 41 })
    expect(invoke.mock.calls).toEqual([
      ['audit_list', { limit: 50, beforeId: null }],
      ['audit_list', { limit: 50, beforeId: 41 }],
    ])
  })

  it('rejects with a BackendError whatever the command threw', async () => {
    const b = createTauriBackend()
    invoke.mockRejectedValueOnce({ code: 'db_unavailable', message: 'down' })
    await expect(b.healthReport()).rejects.toEqual({ code: 'db_unavailable', message: 'down' })
    invoke.mockRejectedValueOnce('plain failure')
    await expect(b.appInfo()).rejects.toEqual({ code: 'unknown', message: 'plain failure' })
  })

  it('listens on core-event, passes payloads through and returns the unlisten', async () => {
    const unlisten = vi.fn()
    let handler: ((e: { payload: unknown }) => void) | undefined
    listen.mockImplementation(async (_name: string, h: (e: { payload: unknown }) => void) => {
      handler = h
      return unlisten
    })
    const b = createTauriBackend()
    const seen: unknown[] = []
    const off = await b.onCoreEvent((e) => seen.push(e))

    expect(listen).toHaveBeenCalledWith(CORE_EVENT, expect.any(Function))
    expect(CORE_EVENT).toBe('core-event')
    const event = { kind: 'health', report: report() }
    handler?.({ payload: event })
    expect(seen).toEqual([event])
    off()
    expect(unlisten).toHaveBeenCalledTimes(1)
  })

  it('detects the Tauri runtime by its IPC bridge', () => {
    expect(isTauriRuntime()).toBe(false)
    ;(window as unknown as Record<string, unknown>).__TAURI_INTERNALS__ = {}
    try {
      expect(isTauriRuntime()).toBe(true)
    } finally {
      delete (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__
    }
  })
})
