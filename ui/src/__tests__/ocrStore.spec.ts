import { beforeEach, describe, expect, it } from 'vitest'
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import { flushPromises } from '@vue/test-utils'
import { provideBackend, type OcrStats } from '../backend'
import { useOcrStore } from '../stores/ocr'
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
    await ocr.setFilters({ status: 'dead', search: '  dead.jpg ' })
    expect(lastList()).toEqual({
      query: { offset: 0, limit: 50, status: 'dead', search: 'dead.jpg' },
    })
    expect(ocr.requests.map((r) => r.id)).toEqual([2])
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
