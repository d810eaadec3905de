// A builder of the Overview page's answer.
import type { Overview } from '../../backend'

/** An Overview answer; `overrides` replace whole sections. */
export function overview(overrides: Partial<Overview> = {}): Overview {
  const at = '2026-11-28T10:00:00Z'
  return {
    at,
    sandbox: false,
    ocr: {
      counts: { pending: 3, in_flight: 1, done: 40, dead: 2, cancelled: 0 },
      cap: 2,
      calls_per_second: 1.5,
      calls: [],
      history: [
        { at: '2026-11-28T09:59:00Z', depth: 6, calls_per_second: 2 },
        { at: '2026-11-28T09:59:30Z', depth: 4, calls_per_second: 1.5 },
      ],
      pause: null,
      done_last_hour: 12,
      dead_last_hour: 1,
      recent: [{ id: 41, side: 'front', status: 'done', finished_at: at }],
      sandbox: false,
    },
    orders: {
      pending: 5,
      expiring_soon: 2,
      cancelled_last_hour: 3,
      paid_last_hour: 9,
      paid_late_last_hour: 1,
      recent_cancelled: [
        { order_no: 'O20261128-0001', amount_fen: 12800, cancelled_at: at, reason: { code: 'unpaid_minutes', params: { minutes: '30' } }, cancelled_by: 'sweep' },
      ],
      sandbox: false,
    },
    failures: [
      { job_id: 7, job_name: 'ping-shop', run_id: 88, outcome: 'failed', scheduled_at: at, error: { code: 'http_get_status', params: { url: 'https://shop.example/ping', status: '503' } } },
    ],
    instances: [
      { id: 'inst-7f3a', is_self: true, started_at: at, last_seen: at, claims: [{ job_id: 2, job_name: 'order-expiry-sweep', scheduled_at: at }] },
      { id: 'inst-0b12', is_self: false, started_at: at, last_seen: at, claims: [] },
    ],
    ...overrides,
  }
}
