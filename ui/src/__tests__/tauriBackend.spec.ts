// The real backend's wiring to Tauri: command names, argument names, the event
// channel, and error normalisation. @tauri-apps/api is mocked here only.
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { OrderDraft } from '../backend'

const invoke = vi.fn()
const listen = vi.fn()
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...a: unknown[]) => invoke(...a) }))
vi.mock('@tauri-apps/api/event', () => ({ listen: (...a: unknown[]) => listen(...a) }))

const { createTauriBackend, isTauriRuntime, CONNECTION_EVENT, CORE_EVENT, SIGNIN_RESULT_EVENT } = await import(
  '../backend/tauri'
)
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

  it('invokes audit_list with the whole query, every key present', async () => {
    invoke.mockResolvedValue({ entries: [], next_before_id: null })
    const b = createTauriBackend()
    await b.auditList({ limit: 50 })
    await b.auditList({
      limit: 50,
      before_id: 41,
      actor: 'Li Lei',
      action: 'job.',
      from: '2026-01-10T00:00:00Z',
      to: '2026-01-11T00:00:00Z',
      search: 'cleanup',
    })
    await b.auditList({ limit: 50, sort: 'who', desc: true, offset: 100 })
    const none = { actor: null, action: null, from: null, to: null, search: null, sort: null, desc: false, offset: 0 }
    expect(invoke.mock.calls).toEqual([
      ['audit_list', { query: { ...none, limit: 50, before_id: null } }],
      [
        'audit_list',
        {
          query: {
            ...none,
            actor: 'Li Lei',
            action: 'job.',
            from: '2026-01-10T00:00:00Z',
            to: '2026-01-11T00:00:00Z',
            search: 'cleanup',
            limit: 50,
            before_id: 41,
          },
        },
      ],
      ['audit_list', { query: { ...none, sort: 'who', desc: true, offset: 100, limit: 50, before_id: null } }],
    ])
  })

  it('invokes the scheduler commands with their names and argument shapes', async () => {
    invoke.mockResolvedValue(null)
    const b = createTauriBackend()
    const trigger = { type: 'cron', expr: '0 8 * * MON-FRI' } as const
    const policy = { misfire_grace_seconds: 60, coalesce: true, max_instances: 1, jitter_seconds: 0, timeout_seconds: null }
    const draft = {
      name: 'once',
      kind: 'send_report',
      trigger: { type: 'date', at: '2026-12-05T08:00' } as const,
      timezone: 'Asia/Shanghai',
      args: { to: 'ops@example.com' },
      policy,
    }
    const edit = { trigger, timezone: 'UTC', policy, args: {} }

    await b.jobsList()
    await b.jobKinds()
    await b.jobPreview(trigger, 'Europe/London', 5)
    await b.jobCreate(draft)
    await b.jobUpdate(7, edit)
    await b.jobPause(7)
    await b.jobResume(7)
    await b.jobRunNow(7)
    await expect(b.jobDelete(7)).resolves.toBeUndefined()
    await b.runStop(31)
    await b.schedulerInstances()

    expect(invoke.mock.calls).toEqual([
      ['jobs_list', undefined],
      ['job_kinds', undefined],
      ['job_preview', { trigger, timezone: 'Europe/London', count: 5 }],
      ['job_create', { draft }],
      ['job_update', { id: 7, edit }],
      ['job_pause', { id: 7 }],
      ['job_resume', { id: 7 }],
      ['job_run_now', { id: 7 }],
      ['job_delete', { id: 7 }],
      ['run_stop', { id: 31 }],
      ['scheduler_instances', undefined],
    ])
  })

  it('invokes runs_list with the whole query, snake_case inside, every key present', async () => {
    invoke.mockResolvedValue({ runs: [], next_before_id: null })
    const b = createTauriBackend()
    await b.runsList({ limit: 50 })
    await b.runsList({
      limit: 20,
      job_id: 3,
      outcome: 'failed',
      from: '2026-01-10T08:00:00+01:00',
      to: '2026-01-11T08:00:00+01:00',
      before_id: 99,
    })
    expect(invoke.mock.calls).toEqual([
      [
        'runs_list',
        {
          query: {
            job_id: null,
            outcome: null,
            from: null,
            to: null,
            sort: null,
            desc: false,
            offset: 0,
            limit: 50,
            before_id: null,
          },
        },
      ],
      [
        'runs_list',
        {
          query: {
            job_id: 3,
            outcome: 'failed',
            from: '2026-01-10T08:00:00+01:00',
            to: '2026-01-11T08:00:00+01:00',
            sort: null,
            desc: false,
            offset: 0,
            limit: 20,
            before_id: 99,
          },
        },
      ],
    ])
  })

  it('invokes the OCR commands with their names and argument shapes', async () => {
    invoke.mockResolvedValue(null)
    const b = createTauriBackend()
    await b.ocrSubmit('https://img.example.com/a.jpg', 'back')
    await b.ocrList({ offset: 0, limit: 50 })
    await b.ocrList({ offset: 50, limit: 50, status: 'dead', search: 'a.jpg' })
    await b.ocrGet(7)
    await b.ocrReveal(7)
    await b.ocrRetry([7, 9])
    await b.ocrCancel([3])
    await b.ocrAttempts(7)
    await b.ocrPurgeDead()
    await b.ocrSetCap(2.5)
    await b.ocrPause()
    await b.ocrResume()
    await b.ocrStats()
    const noOcrFilter = { status: null, search: null, error: null, from: null, to: null, sort: null, desc: false }
    expect(invoke.mock.calls).toEqual([
      ['ocr_submit', { url: 'https://img.example.com/a.jpg', side: 'back' }],
      ['ocr_list', { query: { ...noOcrFilter, offset: 0, limit: 50 } }],
      ['ocr_list', { query: { ...noOcrFilter, status: 'dead', search: 'a.jpg', offset: 50, limit: 50 } }],
      ['ocr_get', { id: 7 }],
      ['ocr_reveal', { id: 7 }],
      ['ocr_retry', { ids: [7, 9] }],
      ['ocr_cancel', { ids: [3] }],
      ['ocr_attempts', { id: 7 }],
      ['ocr_purge_dead', undefined],
      ['ocr_set_cap', { cap: 2.5 }],
      ['ocr_pause', undefined],
      ['ocr_resume', undefined],
      ['ocr_stats', undefined],
    ])
  })

  it('invokes the orders commands with their names and argument shapes', async () => {
    invoke.mockResolvedValue(null)
    const b = createTauriBackend()
    const draft: OrderDraft = { user_id: 10086, kind: 'goods', items: [{ goods_id: 3, quantity: 2, price_fen: 1250 }] }
    const goods = { sku: 'MUG-1', name: 'Tea mug', price_fen: 1250, stock: 10 }
    await b.ordersList({ offset: 0, limit: 50 })
    await b.ordersList({ offset: 50, limit: 50, status: 'pending', search: '10086' })
    await b.cancelledList({ offset: 0, limit: 50, search: 'OD1' })
    await b.orderTimeline('OD1')
    await b.ordersSummary()
    await b.ordersActivity(60)
    await b.ordersList({ offset: 0, limit: 50, sort: 'amount', desc: true })
    await expect(b.orderCancel('OD1', 'asked by the customer')).resolves.toBeUndefined()
    await b.orderCheckPayment('OD1')
    await b.goodsList()
    await b.goodsCreate(goods)
    await b.orderPlace(draft)
    const unsorted = { sort: null, desc: false }
    expect(invoke.mock.calls).toEqual([
      ['orders_list', { query: { ...unsorted, search: null, status: null, offset: 0, limit: 50 } }],
      ['orders_list', { query: { ...unsorted, search: '10086', status: 'pending', offset: 50, limit: 50 } }],
      ['cancelled_list', { query: { ...unsorted, search: 'OD1', status: null, offset: 0, limit: 50 } }],
      ['order_timeline', { orderNo: 'OD1' }],
      ['orders_summary', undefined],
      ['orders_activity', { minutes: 60 }],
      ['orders_list', { query: { search: null, status: null, sort: 'amount', desc: true, offset: 0, limit: 50 } }],
      ['order_cancel', { orderNo: 'OD1', reason: 'asked by the customer' }],
      ['order_check_payment', { orderNo: 'OD1' }],
      ['goods_list', undefined],
      ['goods_create', { goods }],
      ['order_place', { draft }],
    ])
  })

  it('invokes the sign-in and accounts commands with their names and camelCase argument names', async () => {
    invoke.mockResolvedValue(null)
    const b = createTauriBackend()
    await b.authProviders()
    await b.authSession()
    await expect(b.signIn('wechat')).resolves.toBeUndefined()
    await expect(b.signInCancel()).resolves.toBeUndefined()
    await expect(b.signOut()).resolves.toBeUndefined()
    await b.usersList({ search: null, offset: 0, limit: 50 })
    await b.usersList({ search: '138', offset: 50, limit: 50 })
    await expect(b.linkStart(7, 'qq')).resolves.toBeUndefined()
    await b.unlink(12)
    await b.staffSetRole(7, 'operator')
    await b.staffSetRole(7, null)
    await b.linkRequestsList()
    await b.linkRequestResolve(3, true)
    await b.linkRequestResolve(4, false)
    expect(invoke.mock.calls).toEqual([
      ['auth_providers', undefined],
      ['auth_session', undefined],
      ['sign_in', { provider: 'wechat' }],
      ['sign_in_cancel', undefined],
      ['sign_out', undefined],
      ['users_list', { query: { search: null, sort: null, desc: false, offset: 0, limit: 50 } }],
      ['users_list', { query: { search: '138', sort: null, desc: false, offset: 50, limit: 50 } }],
      ['link_start', { userId: 7, provider: 'qq' }],
      ['unlink', { linkId: 12 }],
      ['staff_set_role', { userId: 7, role: 'operator' }],
      ['staff_set_role', { userId: 7, role: null }],
      ['link_requests_list', undefined],
      ['link_request_resolve', { id: 3, accept: true }],
      ['link_request_resolve', { id: 4, accept: false }],
    ])
  })

  it('invokes the staff sessions and the connection commands with their names and camelCase argument names', async () => {
    invoke.mockResolvedValue(null)
    const b = createTauriBackend()
    await b.sessionsList()
    await b.sessionRevoke(9)
    await b.connectionStatus()
    await b.serverChoose('https://ops.example.com')
    await b.serverChoose(null)
    expect(invoke.mock.calls).toEqual([
      ['sessions_list', undefined],
      ['session_revoke', { id: 9 }],
      ['connection_status', undefined],
      ['server_choose', { serverUrl: 'https://ops.example.com' }],
      ['server_choose', { serverUrl: null }],
    ])
  })

  it('listens on connection-state and passes the statuses through', async () => {
    const unlisten = vi.fn()
    let handler: ((e: { payload: unknown }) => void) | undefined
    listen.mockImplementation(async (_name: string, h: (e: { payload: unknown }) => void) => {
      handler = h
      return unlisten
    })
    const b = createTauriBackend()
    const seen: unknown[] = []
    const off = await b.onConnectionState((s) => seen.push(s))
    expect(CONNECTION_EVENT).toBe('connection-state')
    expect(listen).toHaveBeenCalledWith(CONNECTION_EVENT, expect.any(Function))
    const status = {
      mode: 'remote',
      server_url: 'https://ops.example.com',
      fixed_by_config: true,
      link: { state: 'reconnecting', attempt: 2, retry_in_ms: 1000, reason: 'connection refused' },
    }
    handler?.({ payload: status })
    expect(seen).toEqual([status])
    off()
    handler?.({ payload: status })
    expect(seen).toEqual([status])
  })

  it('passes a forbidden refusal through as a BackendError', async () => {
    const b = createTauriBackend()
    invoke.mockRejectedValueOnce({ code: 'forbidden', message: 'a viewer cannot cancel orders' })
    await expect(b.orderCancel('OD1', 'asked')).rejects.toEqual({ code: 'forbidden', message: 'a viewer cannot cancel orders' })
    invoke.mockRejectedValueOnce({ code: 'unauthenticated', message: 'sign in first' })
    await expect(b.unlink(1)).rejects.toEqual({ code: 'unauthenticated', message: 'sign in first' })
  })

  it('tells onRefused of refusals for who is asking, and of nothing else', async () => {
    const b = createTauriBackend()
    const refused: string[] = []
    const stop = b.onRefused((e) => refused.push(e.code))
    invoke.mockRejectedValueOnce({ code: 'unauthenticated', message: 'sign in first' })
    await expect(b.ocrList({ offset: 0, limit: 10 })).rejects.toMatchObject({ code: 'unauthenticated' })
    invoke.mockRejectedValueOnce({ code: 'forbidden', message: 'your console role was removed; ask an admin' })
    await expect(b.overview()).rejects.toMatchObject({ code: 'forbidden' })
    invoke.mockRejectedValueOnce({ code: 'invalid_input', message: 'limit must be between 1 and 500' })
    await expect(b.ocrList({ offset: 0, limit: 0 })).rejects.toMatchObject({ code: 'invalid_input' })
    expect(refused).toEqual(['unauthenticated', 'forbidden'])
    stop()
    invoke.mockRejectedValueOnce({ code: 'unauthenticated', message: 'sign in first' })
    await expect(b.overview()).rejects.toMatchObject({ code: 'unauthenticated' })
    expect(refused).toHaveLength(2)
  })

  it('listens on signin-result and passes the outcomes through', async () => {
    const unlisten = vi.fn()
    let handler: ((e: { payload: unknown }) => void) | undefined
    listen.mockImplementation(async (_name: string, h: (e: { payload: unknown }) => void) => {
      handler = h
      return unlisten
    })
    const b = createTauriBackend()
    const seen: unknown[] = []
    const off = await b.onSignInResult((r) => seen.push(r))

    expect(listen).toHaveBeenCalledWith(SIGNIN_RESULT_EVENT, expect.any(Function))
    expect(SIGNIN_RESULT_EVENT).toBe('signin-result')
    handler?.({ payload: { status: 'cancelled' } })
    expect(seen).toEqual([{ status: 'cancelled' }])
    off()
    handler?.({ payload: { status: 'cancelled' } })
    expect(seen).toEqual([{ status: 'cancelled' }])
  })

  it('keeps the field of a validation error', async () => {
    const b = createTauriBackend()
    invoke.mockRejectedValueOnce({ code: 'invalid_input', message: "cron: field 'hour': value 25 out of range 0–23", field: 'trigger' })
    await expect(b.jobPreview({ type: 'cron', expr: '0 25 * * *' }, 'UTC', 5)).rejects.toEqual({
      code: 'invalid_input',
      message: "cron: field 'hour': value 25 out of range 0–23",
      field: 'trigger',
    })
  })

  it('rejects with a BackendError whatever the command threw', async () => {
    const b = createTauriBackend()
    invoke.mockRejectedValueOnce({ code: 'database_unavailable', message: 'down' })
    await expect(b.healthReport()).rejects.toEqual({ code: 'database_unavailable', message: 'down' })
    invoke.mockRejectedValueOnce('plain failure')
    await expect(b.appInfo()).rejects.toEqual({ code: 'unknown', message: 'plain failure' })
  })

  it('listens on core-event, passes payloads through until unsubscribed', async () => {
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
    handler?.({ payload: event })
    expect(seen).toEqual([event])
  })

  it('keeps one Tauri listener per event however often pages subscribe and unsubscribe', async () => {
    const unlisten = vi.fn()
    const handlers: ((e: { payload: unknown }) => void)[] = []
    listen.mockImplementation(async (_name: string, h: (e: { payload: unknown }) => void) => {
      handlers.push(h)
      return unlisten
    })
    const b = createTauriBackend()
    const first: unknown[] = []
    const second: unknown[] = []
    // Two pages open and close ten times each.
    for (let i = 0; i < 10; i++) {
      const offFirst = await b.onCoreEvent((e) => first.push(e))
      const offSecond = await b.onCoreEvent((e) => second.push(e))
      offFirst()
      offSecond()
    }
    expect(listen).toHaveBeenCalledTimes(1)
    expect(unlisten).not.toHaveBeenCalled()
    const stillOpen = await b.onCoreEvent((e) => first.push(e))
    const other = await b.onConnectionState((e) => second.push(e))
    expect(listen).toHaveBeenCalledTimes(2)
    const event = { kind: 'health', report: report() }
    handlers[0]?.({ payload: event })
    expect(first).toEqual([event])
    expect(second).toEqual([])
    stillOpen()
    other()
    handlers[0]?.({ payload: event })
    expect(first).toEqual([event])
  })

  it('lets a callback unsubscribe while an event is being delivered', async () => {
    let handler: ((e: { payload: unknown }) => void) | undefined
    listen.mockImplementation(async (_name: string, h: (e: { payload: unknown }) => void) => {
      handler = h
      return vi.fn()
    })
    const b = createTauriBackend()
    const seen: string[] = []
    const offA: () => void = await b.onCoreEvent(() => {
      seen.push('a')
      offA()
    })
    await b.onCoreEvent(() => seen.push('b'))
    handler?.({ payload: { kind: 'resync' } })
    handler?.({ payload: { kind: 'resync' } })
    expect(seen).toEqual(['a', 'b', 'b'])
  })

  it('tries to listen again after a failed listen', async () => {
    listen.mockRejectedValueOnce(new Error('no IPC')).mockResolvedValue(vi.fn())
    const b = createTauriBackend()
    await expect(b.onCoreEvent(() => {})).rejects.toMatchObject({ message: expect.stringContaining('no IPC') })
    const off = await b.onCoreEvent(() => {})
    expect(listen).toHaveBeenCalledTimes(2)
    off()
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
