import { beforeEach, describe, expect, it } from 'vitest'
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import { flushPromises } from '@vue/test-utils'
import { provideBackend, type OcrStats } from '../backend'
import { useNoticesStore } from '../stores/notices'
import { NO_OCR_FILTERS, useOcrStore } from '../stores/ocr'
import { FakeBackend, ocrRequest, ocrStats } from './fakeBackend'

let backend: FakeBackend

function store() {
  const app = createApp({ render: () => null })
  provideBackend(app, backend)
  app.use(createPinia())
  return useOcrStore()
}

async function started() {
  const ocr = store()
  await ocr.start()
  await flushPromises()
  return ocr
}

/** The arguments of the latest ocr_list call. */
const lastList = () => backend.callsTo('ocr_list').slice(-1)[0]

beforeEach(() => {
  backend = new FakeBackend()
  backend.ocrRequests = [
    ocrRequest({ id: 1, status: 'done' }),
    ocrRequest({ id: 2, status: 'dead', url: 'https://img.example.com/dead.jpg' }),
    ocrRequest({ id: 3, status: 'pending' }),
  ]
  backend.ocrFigures = ocrStats({ counts: { pending: 1, in_flight: 0, done: 1, dead: 1, cancelled: 0 } })
})

describe('OCR store', () => {
  it('subscribes, then loads the live figures and the first page', async () => {
    const ocr = await started()
    expect(backend.listenerCount).toBe(1)
    expect(backend.callsTo('ocr_stats')).toHaveLength(1)
    expect(backend.callsTo('ocr_list')).toEqual([{ query: { offset: 0, limit: 50 } }])
    expect(ocr.stats?.counts).toEqual({ pending: 1, in_flight: 0, done: 1, dead: 1, cancelled: 0 })
    expect(ocr.listLoaded).toBe(true)
    expect(ocr.requests.map((r) => r.id)).toEqual([3, 2, 1])
    expect(ocr.total).toBe(3)
  })

  it('takes the figures from ocr_stats events, without polling', async () => {
    const ocr = await started()
    const pushed = ocrStats({ counts: { pending: 9, in_flight: 1, done: 1, dead: 1, cancelled: 0 }, cap: 4 })
    backend.push({ kind: 'ocr_stats', stats: pushed })
    await flushPromises()
    expect(ocr.stats).toEqual(pushed)
    expect(backend.callsTo('ocr_stats')).toHaveLength(1)
    expect(backend.callsTo('ocr_list')).toHaveLength(1)
  })

  it('keeps a pushed snapshot that arrived while the first fetch was on its way', async () => {
    let answer: (s: OcrStats) => void = () => {}
    backend.ocrStats = () => new Promise<OcrStats>((resolve) => (answer = resolve))
    const ocr = store()
    const starting = ocr.start()
    await flushPromises()
    const pushed = ocrStats({ cap: 7 })
    backend.push({ kind: 'ocr_stats', stats: pushed })
    answer(ocrStats({ cap: 1 }))
    await starting
    expect(ocr.stats?.cap).toBe(7)
  })

  it('refetches the page when a request changes, folding a burst into one more fetch', async () => {
    const ocr = await started()
    backend.ocrRequests[2]!.status = 'in_flight'
    for (let i = 0; i < 5; i++) backend.push({ kind: 'ocr_updated', request: { ...backend.ocrRequests[2]! } })
    // The pushed request is shown at once, before the refetch answers.
    expect(ocr.requests[0]?.status).toBe('in_flight')
    await flushPromises()
    expect(backend.callsTo('ocr_list')).toHaveLength(3)
    expect(ocr.requests.map((r) => [r.id, r.status])).toEqual([
      [3, 'in_flight'],
      [2, 'dead'],
      [1, 'done'],
    ])
  })

  it('keeps the open detail live from ocr_updated', async () => {
    const ocr = await started()
    await ocr.openDetail(2)
    expect(ocr.detail?.id).toBe(2)
    backend.push({ kind: 'ocr_updated', request: { ...backend.ocrRequests[1]!, status: 'pending', error: null } })
    expect(ocr.detail?.status).toBe('pending')
    ocr.closeDetail()
    expect(ocr.detail).toBeNull()
  })

  it('sends the state filter and search, starting again at the first page', async () => {
    const ocr = await started()
    await ocr.goTo(50) // clamped: only one page
    expect(ocr.offset).toBe(0)
    await ocr.setFilters({ ...NO_OCR_FILTERS, status: 'dead', search: '  dead.jpg ' })
    expect(lastList()).toEqual({
      query: { offset: 0, limit: 50, status: 'dead', search: 'dead.jpg' },
    })
    expect(ocr.requests.map((r) => r.id)).toEqual([2])
  })

  it('sends the error search, the date range and the sort, starting again at the first page', async () => {
    const ocr = await started()
    await ocr.setFilters({
      ...NO_OCR_FILTERS,
      error: ' 216201 ',
      from: '2026-01-10T08:00:00+08:00',
      to: '2026-01-11T08:00:00+08:00',
    })
    expect(lastList()).toEqual({
      query: { offset: 0, limit: 50, error: '216201', from: '2026-01-10T08:00:00+08:00', to: '2026-01-11T08:00:00+08:00' },
    })
    await ocr.setSort({ key: 'attempts', desc: true })
    expect(lastList()).toEqual({
      query: {
        offset: 0,
        limit: 50,
        error: '216201',
        from: '2026-01-10T08:00:00+08:00',
        to: '2026-01-11T08:00:00+08:00',
        sort: 'attempts',
        desc: true,
      },
    })
    await ocr.setSort(null)
    expect(lastList()).toEqual({ query: expect.not.objectContaining({ sort: expect.anything() }) })
  })

  it("loads the open request's calls to Baidu, and again when the request changes", async () => {
    backend.ocrAttemptLog[2] = [
      { attempt: 1, at: '2026-01-10T02:00:00Z', outcome: 'dead', error_code: 216201, message: 'Baidu error 216201: image format error', duration_ms: 40, instance: 'a' },
    ]
    const ocr = await started()
    await ocr.openDetail(2)
    await flushPromises()
    expect(backend.callsTo('ocr_attempts')).toEqual([{ id: 2 }])
    expect(ocr.attempts?.map((a) => a.outcome)).toEqual(['dead'])
    backend.ocrAttemptLog[2]!.push({ ...backend.ocrAttemptLog[2]![0]!, attempt: 2, outcome: 'ok', error_code: null, message: null })
    backend.push({ kind: 'ocr_updated', request: { ...backend.ocrRequests[1]!, status: 'done' } })
    await flushPromises()
    expect(ocr.attempts?.map((a) => a.outcome)).toEqual(['dead', 'ok'])
    ocr.closeDetail()
    expect(ocr.attempts).toBeNull()
  })

  it('cancels through ocr_cancel and refetches the page', async () => {
    const ocr = await started()
    const before = backend.callsTo('ocr_list').length
    expect(await ocr.cancel([3])).toEqual({ cancelled: 1, skipped: 0 })
    await flushPromises()
    expect(backend.callsTo('ocr_cancel')).toEqual([{ ids: [3] }])
    expect(backend.callsTo('ocr_list').length).toBeGreaterThan(before)
    expect(ocr.requests.find((r) => r.id === 3)?.status).toBe('cancelled')
  })

  it("says a retried request failed again, after the retry's own notice", async () => {
    const ocr = await started()
    const notices = useNoticesStore()
    const dead = backend.ocrRequests[1]!
    // The core answers the retry only after the request went pending and dead again.
    backend.ocrRetry = async () => {
      backend.push({ kind: 'ocr_updated', request: { ...dead, status: 'pending', error: null } })
      backend.push({ kind: 'ocr_updated', request: { ...dead, status: 'dead', error: 'Baidu error 216201: image format error' } })
      return { retried: 1, skipped: 0 }
    }
    await ocr.retry([2])
    expect(notices.notices).toEqual([])
    notices.success('Retried 1 request.', { key: 'ocr.retry' })
    ocr.retryNoticed()
    expect(notices.notices).toEqual([
      expect.objectContaining({
        kind: 'error',
        key: 'ocr.retry',
        title: 'Request #2 failed again:',
        text: 'Baidu error 216201: image format error',
      }),
    ])
    // A stale dead event of a request not seen waiting again says nothing; one seen waiting does.
    notices.clear()
    backend.ocrRetry = async () => ({ retried: 1, skipped: 0 })
    await ocr.retry([2])
    ocr.retryNoticed()
    backend.push({ kind: 'ocr_updated', request: { ...dead, status: 'dead', error: 'old' } })
    expect(notices.notices).toEqual([])
    backend.push({ kind: 'ocr_updated', request: { ...dead, status: 'in_flight', error: null } })
    backend.push({ kind: 'ocr_updated', request: { ...dead, status: 'dead', error: 'Baidu error 282000: internal error' } })
    expect(notices.notices.map((n) => n.text)).toEqual(['Baidu error 282000: internal error'])
    // Recognised after a retry: nothing more to say.
    notices.clear()
    await ocr.retry([2])
    ocr.retryNoticed()
    backend.push({ kind: 'ocr_updated', request: { ...dead, status: 'pending', error: null } })
    backend.push({ kind: 'ocr_updated', request: { ...dead, status: 'done', error: null } })
    backend.push({ kind: 'ocr_updated', request: { ...dead, status: 'dead', error: 'later' } })
    expect(notices.notices).toEqual([])
  })

  it('goes back to the last page when the one shown has emptied', async () => {
    backend.ocrRequests = Array.from({ length: 60 }, (_, i) => ocrRequest({ id: i + 1 }))
    const ocr = await started()
    await ocr.goTo(50)
    expect(ocr.requests).toHaveLength(10)
    backend.ocrRequests = backend.ocrRequests.slice(0, 45)
    backend.push({ kind: 'ocr_updated', request: backend.ocrRequests[0]! })
    await flushPromises()
    expect(ocr.offset).toBe(0)
    expect(ocr.requests).toHaveLength(45)
    expect(backend.callsTo('ocr_list').map((c) => (c as { query: { offset: number } }).query.offset)).toEqual([
      0, 50, 50, 0,
    ])
  })

  it('applies the figures the cap, pause and resume actions return', async () => {
    const ocr = await started()
    await ocr.setCap(3)
    expect(ocr.stats?.cap).toBe(3)
    expect(ocr.stats?.cap_source).toBe('console')
    await ocr.pause()
    expect(ocr.stats?.pause?.kind).toBe('manual')
    await ocr.resume()
    expect(ocr.stats?.pause).toBeNull()
  })

  it('rejects a refused action with a BackendError', async () => {
    const ocr = await started()
    await expect(ocr.setCap(0)).rejects.toEqual({
      code: 'ocr_cap_out_of_range',
      field: 'cap',
      message: 'the cap must be from 0.1 to 1000 calls per second',
      params: { min: '0.1', max: '1000' },
    })
    backend.failures.ocr_retry = 'Redis is unavailable'
    await expect(ocr.retry([2])).rejects.toEqual({ code: 'unknown', message: 'Redis is unavailable' })
  })

  it('keeps a failed load as a BackendError', async () => {
    backend.failures.ocr_list = { code: 'database_unavailable', message: 'the database is unavailable: timed out' }
    backend.failures.ocr_stats = { code: 'redis_unavailable', message: 'Redis is unavailable: refused' }
    const ocr = await started()
    expect(ocr.listLoaded).toBe(false)
    expect(ocr.listError?.code).toBe('database_unavailable')
    expect(ocr.statsError?.code).toBe('redis_unavailable')
  })

  it('stops listening on stop()', async () => {
    const ocr = await started()
    ocr.stop()
    expect(backend.listenerCount).toBe(0)
    backend.push({ kind: 'ocr_stats', stats: ocrStats({ cap: 9 }) })
    expect(ocr.stats?.cap).toBe(2)
  })
})
