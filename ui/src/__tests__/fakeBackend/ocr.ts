// The fake OCR queue commands, and builders of what they answer.
import type {
  CancelOutcome,
  IdCard,
  OcrAttempt,
  OcrCallSample,
  OcrPage,
  OcrQuery,
  OcrRequest,
  OcrStats,
  OcrSubmitted,
  RetryOutcome,
  RevealedIdCard,
  Side,
} from '../../backend'
import { clone } from './core'
import { FakeScheduler } from './jobs'

/** The OCR queue: requests, reveals, retries, the cap and pausing. */
export class FakeOcr extends FakeScheduler {
  /** The core's OCR requests (ID numbers masked); the OCR actions change them as the core would. */
  ocrRequests: OcrRequest[] = []
  /** The live figures ocrStats() answers; the cap and pause actions change them. */
  ocrFigures: OcrStats = ocrStats()
  /** The attempt histories ocrAttempts() answers, by request id. */
  ocrAttemptLog: Record<number, OcrAttempt[]> = {}
  /** The cards in full ocrReveal() answers, by request id. */
  revealedCards: Record<number, RevealedIdCard> = {}

  private ocrFind(id: number): OcrRequest {
    const r = this.ocrRequests.find((x) => x.id === id)
    if (!r) throw { code: 'ocr_request_not_found', message: `no OCR request ${id}`, params: { id: String(id) } }
    return r
  }

  async ocrSubmit(url: string, side: Side): Promise<OcrSubmitted> {
    this.record('ocr_submit', { url, side })
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url.trim())?.[1]?.toLowerCase()
    if (scheme !== 'http' && scheme !== 'https') {
      throw {
        code: 'image_url_invalid',
        field: 'url',
        message: scheme
          ? `only http and https image URLs can be recognised, not ${scheme}:`
          : 'not a URL: relative URL without a base',
        params: { reason: scheme ? 'scheme' : 'not_url', example: 'https://img.example.com/id-front.jpg' },
      }
    }
    const known = this.ocrRequests.find((r) => r.url === url.trim())
    if (known) return { request_id: known.id, status: known.status, existing: true, result: null }
    const created = ocrRequest({ id: Math.max(0, ...this.ocrRequests.map((r) => r.id)) + 1, url: url.trim(), side })
    this.ocrRequests.push(created)
    this.ocrFigures.counts.pending++
    return { request_id: created.id, status: 'pending', existing: false, result: null }
  }

  async ocrList(q: OcrQuery): Promise<OcrPage> {
    this.record('ocr_list', { query: q })
    const error = q.error ?? ''
    const sortKey = q.sort ?? null
    const sign = q.sort && q.desc ? -1 : 1
    const matching = this.ocrRequests
      .filter((r) => (q.status ?? null) === null || r.status === q.status)
      .filter((r) => !q.search || r.url.includes(q.search))
      // As the core: a part of the error (any case), or Baidu's code as digits.
      .filter(
        (r) =>
          !error ||
          (r.error ?? '').toLowerCase().includes(error.toLowerCase()) ||
          (/^\d+$/.test(error) && r.error_code === Number(error)),
      )
      .filter((r) => !q.from || Date.parse(r.created_at) >= Date.parse(q.from))
      .filter((r) => !q.to || Date.parse(r.created_at) < Date.parse(q.to))
      .sort((a, b) => {
        if (sortKey === null) return b.id - a.id
        const [x, y] = [a[sortKey], b[sortKey]]
        const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))
        return sign * (order === 0 ? a.id - b.id : order)
      })
    return { requests: clone(matching.slice(q.offset, q.offset + q.limit)), total: matching.length }
  }

  async ocrGet(id: number): Promise<OcrRequest> {
    this.record('ocr_get', { id })
    return clone(this.ocrFind(id))
  }

  async ocrReveal(id: number): Promise<RevealedIdCard> {
    this.record('ocr_reveal', { id })
    const r = this.ocrFind(id)
    const card = this.revealedCards[id]
    if (r.result?.fields.side !== 'front' || card === undefined) {
      throw { code: 'ocr_no_result', message: `request ${id} has no result yet`, params: { id: String(id) } }
    }
    return clone(card)
  }

  async ocrRetry(ids: number[]): Promise<RetryOutcome> {
    this.record('ocr_retry', { ids })
    let retried = 0
    for (const id of new Set(ids)) {
      const r = this.ocrRequests.find((x) => x.id === id)
      if (r?.status !== 'dead') continue
      Object.assign(r, { status: 'pending', attempts: 0, error: null, error_code: null, finished_at: null })
      retried++
    }
    return { retried, skipped: new Set(ids).size - retried }
  }

  async ocrCancel(ids: number[]): Promise<CancelOutcome> {
    this.record('ocr_cancel', { ids })
    let cancelled = 0
    for (const id of new Set(ids)) {
      const r = this.ocrRequests.find((x) => x.id === id)
      if (r?.status !== 'pending') continue
      Object.assign(r, { status: 'cancelled', finished_at: new Date().toISOString() })
      cancelled++
    }
    return { cancelled, skipped: new Set(ids).size - cancelled }
  }

  async ocrAttempts(id: number): Promise<OcrAttempt[]> {
    this.record('ocr_attempts', { id })
    this.ocrFind(id)
    return clone(this.ocrAttemptLog[id] ?? [])
  }

  async ocrPurgeDead(): Promise<number> {
    this.record('ocr_purge_dead')
    const before = this.ocrRequests.length
    this.ocrRequests = this.ocrRequests.filter((r) => r.status !== 'dead')
    this.ocrFigures.counts.dead = 0
    return before - this.ocrRequests.length
  }

  async ocrSetCap(cap: number): Promise<OcrStats> {
    this.record('ocr_set_cap', { cap })
    if (!(cap >= 0.1 && cap <= 1000)) {
      throw {
        code: 'ocr_cap_out_of_range',
        field: 'cap',
        message: 'the cap must be from 0.1 to 1000 calls per second',
        params: { min: '0.1', max: '1000' },
      }
    }
    Object.assign(this.ocrFigures, { cap, cap_source: 'console' })
    return clone(this.ocrFigures)
  }

  async ocrPause(): Promise<OcrStats> {
    this.record('ocr_pause')
    this.ocrFigures.pause = { kind: 'manual', reason: 'paused by tester@desktop', since: '2026-01-10T02:00:00Z', until: null }
    return clone(this.ocrFigures)
  }

  async ocrResume(): Promise<OcrStats> {
    this.record('ocr_resume')
    this.ocrFigures.pause = null
    return clone(this.ocrFigures)
  }

  async ocrStats(): Promise<OcrStats> {
    this.record('ocr_stats')
    return clone(this.ocrFigures)
  }
}

/** A recognised portrait side as the core hands it out: masked as a whole. */
export function idCardFront(idNumber = '3201**********1234'): IdCard {
  return {
    fields: {
      side: 'front',
      name: '张*',
      id_number: idNumber,
      gender: '男',
      nation: '汉',
      birth_date: '********',
      address: '江苏省南京市****',
    },
    image_status: 'normal',
    risk_type: 'normal',
    idcard_number_type: 1,
    log_id: '1752224492569240506',
  }
}

export function ocrRequest(overrides: Partial<OcrRequest> = {}): OcrRequest {
  return {
    id: 1,
    url: 'https://img.example.com/card-1.jpg',
    side: 'front',
    status: 'pending',
    attempts: 0,
    created_at: '2026-01-10T02:00:00Z',
    updated_at: '2026-01-10T02:00:00Z',
    next_attempt_at: null,
    finished_at: null,
    error: null,
    error_code: null,
    result: null,
    instance: null,
    ...overrides,
  }
}

/** Sixty one-second samples ending at 2026-01-10T02:00:59Z, `calls` each (or per second from a function). */
export function callSamples(calls: number | ((i: number) => number) = 0): OcrCallSample[] {
  const start = Date.parse('2026-01-10T02:00:00Z')
  return Array.from({ length: 60 }, (_, i) => ({
    at: new Date(start + i * 1000).toISOString().replace('.000Z', 'Z'),
    calls: typeof calls === 'number' ? calls : calls(i),
  }))
}

export function ocrStats(overrides: Partial<OcrStats> = {}): OcrStats {
  return {
    counts: { pending: 0, in_flight: 0, done: 0, dead: 0, cancelled: 0 },
    cap: 2,
    cap_source: 'config',
    calls: callSamples(),
    drain_seconds: null,
    pause: null,
    sandbox: false,
    ...overrides,
  }
}

