// An audit entry's action as a sentence in the active language, built from its target
// ("job:nightly-report", "order:2026…", "user:7") and its details (what the core recorded with
// it, see the record_audit calls in opsdeck-core). An action this console does not know, or an
// entry whose details lack what its sentence needs, gets null: the page then shows the raw detail
// (which is also on the sentence's hover).
import type { AuditEntry, Role } from './backend'
import { roleWord } from './accountsFormat'
import { t } from './i18n'

type Params = Record<string, string | number>
type Detail = Record<string, unknown>

/** The part of a target after its kind: "job:nightly-report" → "nightly-report". */
function targetId(target: string): string {
  const colon = target.indexOf(':')
  return colon < 0 ? target : target.slice(colon + 1)
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
/** A count the core writes as a number or as the list it counted. */
const count = (v: unknown): number | undefined => (Array.isArray(v) ? v.length : num(v))

/** What each sentence needs; undefined when a detail it needs is missing or of the wrong type. */
const SENTENCES: Record<string, (id: string, d: Detail) => { key: string; params: Params } | undefined> = {
  'job.create': (name) => ({ key: 'job_create', params: { name } }),
  'job.update': (name) => ({ key: 'job_update', params: { name } }),
  'job.delete': (name) => ({ key: 'job_delete', params: { name } }),
  'job.pause': (name) => ({ key: 'job_pause', params: { name } }),
  'job.resume': (name) => ({ key: 'job_resume', params: { name } }),
  'job.run_now': (name) => ({ key: 'job_run_now', params: { name } }),
  'job.stop': (name, d) => {
    const run = num(d.run_id)
    return run !== undefined ? { key: 'job_stop', params: { name, run } } : undefined
  },
  'goods.create': (_, d) => {
    const sku = text(d.sku)
    const stock = num(d.stock)
    return sku !== undefined && stock !== undefined ? { key: 'goods_create', params: { sku, stock } } : undefined
  },
  'order.place': (order, d) => {
    const fen = num(d.amount_fen)
    return fen !== undefined ? { key: 'order_place', params: { order, yuan: (fen / 100).toFixed(2) } } : undefined
  },
  'order.cancel': (order, d) => {
    const reason = text(d.reason) ?? '—'
    return { key: d.done === false ? 'order_cancelFailed' : 'order_cancel', params: { order, reason } }
  },
  'order.check_payment': (order) => ({ key: 'order_check_payment', params: { order } }),
  'ocr.submit': (_, d) => {
    const url = text(d.url)
    const side = d.side === 'front' || d.side === 'back' ? t(`ocr.side.${d.side}`) : undefined
    return url !== undefined && side !== undefined ? { key: 'ocr_submit', params: { url, side } } : undefined
  },
  'ocr.reveal': (id) => ({ key: 'ocr_reveal', params: { id } }),
  'ocr.retry': (_, d) => {
    const requested = count(d.requested)
    const retried = count(d.retried)
    return requested !== undefined && retried !== undefined ? { key: 'ocr_retry', params: { requested, retried } } : undefined
  },
  'ocr.cancel': (_, d) => {
    const requested = count(d.requested)
    const cancelled = count(d.cancelled)
    return requested !== undefined && cancelled !== undefined
      ? { key: 'ocr_cancel', params: { requested, cancelled } }
      : undefined
  },
  'ocr.purge_dead': (_, d) => {
    const purged = count(d.purged)
    return purged !== undefined ? { key: 'ocr_purge_dead', params: { purged } } : undefined
  },
  'ocr.set_cap': (_, d) => {
    const from = num(d.from)
    const to = num(d.to)
    return from !== undefined && to !== undefined ? { key: 'ocr_set_cap', params: { from, to } } : undefined
  },
  'ocr.pause': () => ({ key: 'ocr_pause', params: {} }),
  'ocr.resume': () => ({ key: 'ocr_resume', params: {} }),
  'staff.set_role': (user, d) => {
    const role = text(d.role)
    return role !== undefined ? { key: 'staff_set_role', params: { user, role: roleWord(role as Role) } } : undefined
  },
  'staff.sign_in': () => ({ key: 'staff_sign_in', params: {} }),
  'staff.session_open': () => ({ key: 'staff_session_open', params: {} }),
  'staff.sign_out': () => ({ key: 'staff_sign_out', params: {} }),
  'staff.session_revoke': (id) => ({ key: 'staff_session_revoke', params: { id } }),
  'staff.sessions_revoke': (user, d) => {
    const ended = count(d.ended)
    return ended !== undefined ? { key: 'staff_sessions_revoke', params: { user, ended } } : undefined
  },
  'account.unlink': (user) => ({ key: 'account_unlink', params: { user } }),
  'account.link_confirm': (id, d) => ({ key: 'account_link_confirm', params: { id, user: num(d.user_id) ?? '—' } }),
  'account.link_reject': (id, d) => ({ key: 'account_link_reject', params: { id, user: num(d.user_id) ?? '—' } }),
}

/** The entry's action as a sentence, or null (unknown action, or details it cannot read). */
export function auditSentence(entry: Pick<AuditEntry, 'action' | 'target' | 'detail'>): string | null {
  const build = Object.prototype.hasOwnProperty.call(SENTENCES, entry.action) ? SENTENCES[entry.action] : undefined
  if (!build) return null
  // The core records an object (or nothing); anything else is free text the page shows as it is.
  if (entry.detail !== null && (typeof entry.detail !== 'object' || Array.isArray(entry.detail))) return null
  const detail = (entry.detail ?? {}) as Detail
  const sentence = build(targetId(entry.target), detail)
  return sentence ? t(`audit.sentence.${sentence.key}`, sentence.params) : null
}
