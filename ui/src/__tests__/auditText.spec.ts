import { describe, expect, it } from 'vitest'
import type { AuditEntry } from '../backend'
import { auditSentence } from '../auditText'
import { applyLocale } from '../i18n'

type Entry = Pick<AuditEntry, 'action' | 'target' | 'detail'>
const e = (action: string, target: string, detail: AuditEntry['detail'] = null): Entry => ({ action, target, detail })

// The entries as the core records them (the record_audit calls in opsdeck-core).
const ENTRIES: Entry[] = [
  e('job.pause', 'job:nightly-report', { id: 3 }),
  e('job.run_now', 'job:nightly-report', { id: 3 }),
  e('job.stop', 'job:nightly-report', { run_id: 41, id: 3, instance: 'inst-a' }),
  e('order.place', 'order:20260110A1', { amount_fen: 12345, user_id: 7 }),
  e('order.cancel', 'order:20260110A1', { reason: 'duplicate', done: true }),
  e('order.cancel', 'order:20260110A1', { reason: 'duplicate', done: false }),
  e('ocr.retry', 'ocr', { requested: [1, 2, 3], retried: 2 }),
  e('ocr.set_cap', 'ocr', { from: 2, to: 5 }),
  e('ocr.submit', 'ocr:41', { url: 'https://img.example/a.jpg', side: 'back', existing: false }),
  e('staff.set_role', 'user:7', { role: 'operator', previous: null }),
  e('staff.sessions_revoke', 'user:7', { ended: 2 }),
  e('account.link_reject', 'link_request:9', { user_id: 7 }),
]

describe('audit actions as sentences', () => {
  it('in English, from the target and the details', () => {
    expect(ENTRIES.map(auditSentence)).toEqual([
      'Paused the job “nightly-report”.',
      'Started the job “nightly-report” by hand.',
      'Stopped run #41 of the job “nightly-report”.',
      'Placed the order 20260110A1 for ¥123.45.',
      'Cancelled the order 20260110A1: duplicate.',
      'Tried to cancel the order 20260110A1 (duplicate); it was not cancelled.',
      'Retried 2 of 3 dead OCR requests.',
      'Changed the OCR rate limit from 2 to 5 calls per second.',
      'Submitted an ID card image (back) for OCR: https://img.example/a.jpg',
      'Gave user 7 the role operator.',
      'Revoked the sessions of user 7 (2 were open).',
      'Rejected link request 9 (user 7).',
    ])
  })

  it('in Chinese, with no English but codes and URLs', () => {
    applyLocale('zh-CN')
    expect(ENTRIES.map(auditSentence)).toEqual([
      '暂停了任务“nightly-report”。',
      '手动运行了任务“nightly-report”。',
      '停止了任务“nightly-report”的运行 #41。',
      '下了订单 20260110A1，金额 ¥123.45。',
      '取消了订单 20260110A1：duplicate。',
      '尝试取消订单 20260110A1（duplicate），未能取消。',
      '重试了 3 个失败的 OCR 请求中的 2 个。',
      '将 OCR 调用速率上限从每秒 2 次改为 5 次。',
      '提交了身份证图片（反面）进行 OCR：https://img.example/a.jpg',
      '将用户 7 的角色设为操作员。',
      '撤销了用户 7 的会话（2 个仍有效）。',
      '拒绝了绑定申请 9（用户 7）。',
    ])
  })

  it('falls back (null: the page shows the raw detail) for unknown actions and unreadable details', () => {
    expect(auditSentence(e('job.teleport', 'job:x', { id: 1 }))).toBeNull()
    expect(auditSentence(e('ocr.set_cap', 'ocr', { from: 'two', to: 5 }))).toBeNull()
    expect(auditSentence(e('goods.create', 'goods:1', {}))).toBeNull()
    expect(auditSentence(e('job.pause', 'job:x', 'paused for maintenance'))).toBeNull()
    expect(auditSentence(e('toString', 'x'))).toBeNull()
  })

  it('says an OCR cancel as the core records it (ids requested and cancelled)', () => {
    const cancel = e('ocr.cancel', 'ocr', { requested: [3, 5], cancelled: [3], skipped: 1 })
    applyLocale('en')
    expect(auditSentence(cancel)).toBe('Cancelled 1 of 2 pending OCR requests.')
    applyLocale('zh-CN')
    expect(auditSentence(cancel)).toBe('取消了 2 个待处理 OCR 请求中的 1 个。')
    applyLocale('en')
    expect(auditSentence(e('ocr.cancel', 'ocr', { requested: 'x' }))).toBeNull()
  })

  it('has a sentence in both languages for every action it knows', () => {
    const actions = ['job.create', 'job.update', 'job.delete', 'job.resume', 'ocr.pause', 'ocr.resume', 'staff.sign_in', 'staff.sign_out']
    for (const locale of ['en', 'zh-CN'] as const) {
      applyLocale(locale)
      for (const action of actions) expect(auditSentence(e(action, 'job:x', {}))).not.toMatch(/audit\.sentence/)
    }
  })
})
