import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { h } from 'vue'
import type { Pinia } from 'pinia'
import { createMemoryHistory, createRouter, RouterView, type Router } from 'vue-router'
import OcrView from '../views/OcrView.vue'
import OcrCallsChart from '../components/ocr/OcrCallsChart.vue'
import { useNoticesStore } from '../stores/notices'
import { backendPlugins, callSamples, FakeBackend, idCardFront, ocrRequest, ocrStats, staffMember } from './fakeBackend'

let backend: FakeBackend
let wrapper: VueWrapper | undefined
let pinia: Pinia

async function mountView() {
  const mounted = backendPlugins(backend)
  pinia = mounted.pinia
  // The chart draws on a canvas, which jsdom lacks; its own spec covers it.
  wrapper = mount(OcrView, { global: { plugins: mounted.plugins, stubs: { OcrCallsChart: true } }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

/** The OCR page under a router, opened at `path` (e.g. a notice's link). */
async function mountRouted(path: string): Promise<{ w: VueWrapper; router: Router }> {
  const mounted = backendPlugins(backend)
  pinia = mounted.pinia
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/ocr', name: 'ocr', component: OcrView }] })
  await router.push(path)
  await router.isReady()
  wrapper = mount(
    { render: () => h(RouterView) },
    { global: { plugins: [...mounted.plugins, router], stubs: { OcrCallsChart: true } }, attachTo: document.body },
  )
  await flushPromises()
  return { w: wrapper, router }
}

/** The notices the page raised (stores/notices.ts; Notices.vue shows them, see Notices.spec). */
const notices = () => useNoticesStore(pinia).notices
const lastNotice = () => notices()[notices().length - 1]

const row = (w: VueWrapper, id: number) => w.get(`[data-testid="ocr-row"][data-request-id="${id}"]`)
const rowIds = (w: VueWrapper) => w.findAll('[data-testid="ocr-row"]').map((r) => Number(r.attributes('data-request-id')))
const testid = (w: VueWrapper, id: string) => w.get(`[data-testid="${id}"]`)

/** The arguments of the latest ocr_list call. */
const lastList = () => backend.callsTo('ocr_list').slice(-1)[0]

beforeEach(() => {
  backend = new FakeBackend()
  backend.ocrRequests = [
    ocrRequest({
      id: 1,
      url: 'https://img.example.com/a.jpg',
      status: 'done',
      attempts: 1,
      updated_at: '2026-01-10T02:00:05Z',
      finished_at: '2026-01-10T02:00:05Z',
      result: idCardFront('3201**********1234'),
    }),
    ocrRequest({
      id: 2,
      url: 'https://img.example.com/b.jpg?fail=216201',
      status: 'dead',
      attempts: 1,
      error: 'Baidu error 216201: image format error',
      error_code: 216201,
    }),
    ocrRequest({ id: 3, url: 'https://img.example.com/c.jpg', status: 'pending' }),
    ocrRequest({ id: 4, url: 'https://img.example.com/d.jpg', status: 'dead', attempts: 5, error: 'timed out' }),
  ]
  backend.revealedCards = {
    1: {
      name: '张三',
      id_number: '320102199001011234',
      gender: '男',
      nation: '汉',
      birth_date: '19900101',
      address: '江苏省南京市玄武区中山路18号',
    },
  }
  backend.ocrFigures = ocrStats({
    counts: { pending: 7, in_flight: 2, done: 40, dead: 3, cancelled: 0 },
    cap: 2,
    calls: callSamples((i) => (i % 2 === 0 ? 2 : 1)),
    drain_seconds: 4.5,
  })
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
  vi.useRealTimers()
})

describe('OcrView', () => {
  it('shows the counts by state, the cap, the time to drain and the calls chart', async () => {
    const w = await mountView()
    expect(testid(w, 'page-title').text()).toBe('OCR queue')
    expect(testid(w, 'ocr-count-pending').text()).toBe('7')
    expect(testid(w, 'ocr-count-in_flight').text()).toBe('2')
    expect(testid(w, 'ocr-count-done').text()).toBe('40')
    expect(testid(w, 'ocr-count-dead').text()).toBe('3')
    expect(testid(w, 'ocr-cap').text()).toBe('2 calls/s')
    expect(testid(w, 'ocr-drain').text()).toContain('~5 s')
    expect(w.find('[data-testid="ocr-pause"]').exists()).toBe(true)
    expect(w.find('[data-testid="ocr-resume"]').exists()).toBe(false)
    expect(w.find('[data-testid="ocr-sandbox"]').exists()).toBe(false)

    const chart = w.getComponent(OcrCallsChart)
    expect(chart.props('cap')).toBe(2)
    expect(chart.props('calls')).toHaveLength(60)
    expect(chart.props('calls')[0]).toEqual({ at: '2026-01-10T02:00:00Z', calls: 2 })
    expect(chart.props('zone')).toBe('Europe/Berlin')
  })

  it('lists the requests newest first, with URL, state, attempts, time in the app zone and error', async () => {
    const w = await mountView()
    expect(backend.callsTo('ocr_list')).toEqual([{ query: { offset: 0, limit: 50 } }])
    expect(rowIds(w)).toEqual([4, 3, 2, 1])

    const dead = row(w, 2)
    expect(dead.attributes('data-status')).toBe('dead')
    expect(dead.get('[data-testid="ocr-row-url"]').attributes('title')).toBe('https://img.example.com/b.jpg?fail=216201')
    expect(dead.get('[data-testid="ocr-row-error"]').text()).toBe('Baidu error 216201: image format error')
    expect(dead.find('[data-testid="ocr-row-retry"]').exists()).toBe(true)

    const done = row(w, 1)
    expect(done.get('[data-testid="ocr-status"]').text()).toBe('done')
    expect(done.get('time').text()).toBe('Jan 10, 2026, 03:00:05') // Europe/Berlin
    expect(done.find('[data-testid="ocr-row-retry"]').exists()).toBe(false)
    expect(done.find('[data-testid="ocr-row-select"]').exists()).toBe(false)
    expect(testid(w, 'ocr-page-range').text()).toBe('1–4 of 4')
  })

  it('follows ocr_stats events: counts, cap and the paused state with reason and resume time', async () => {
    const w = await mountView()
    backend.push({
      kind: 'ocr_stats',
      stats: ocrStats({
        counts: { pending: 120, in_flight: 1, done: 41, dead: 3, cancelled: 0 },
        cap: 0.5,
        cap_source: 'console',
        drain_seconds: 242,
        sandbox: true,
        pause: {
          kind: 'quota',
          reason: 'Baidu error 17: Open api daily request limit reached',
          since: '2026-01-10T02:00:00Z',
          until: '2026-01-10T16:00:00Z',
        },
      }),
    })
    await flushPromises()
    expect(testid(w, 'ocr-count-pending').text()).toBe('120')
    expect(testid(w, 'ocr-count-done').text()).toBe('41')
    expect(testid(w, 'ocr-cap').text()).toBe('0.5 calls/s')
    expect(testid(w, 'ocr-drain').text()).toContain('5 min')
    expect(testid(w, 'ocr-paused-reason').text()).toBe('Baidu error 17: Open api daily request limit reached')
    expect(testid(w, 'ocr-paused-until').text()).toBe('Jan 10, 2026, 17:00:00 +01:00')
    expect(testid(w, 'ocr-sandbox').text()).toBe('sandbox')
    expect(w.getComponent(OcrCallsChart).props('cap')).toBe(0.5)

    // Paused: Resume instead of Pause, and it calls the core.
    expect(w.find('[data-testid="ocr-pause"]').exists()).toBe(false)
    await testid(w, 'ocr-resume').trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_resume')).toHaveLength(1)
    expect(w.find('[data-testid="ocr-paused-reason"]').exists()).toBe(false)
    expect(w.find('[data-testid="ocr-pause"]').exists()).toBe(true)
    expect(lastNotice()).toMatchObject({ kind: 'success', text: 'Resumed the OCR queue.' })
  })

  it('pauses the queue and shows why', async () => {
    const w = await mountView()
    await testid(w, 'ocr-pause').trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_pause')).toHaveLength(1)
    expect(testid(w, 'ocr-paused-reason').text()).toBe('paused by tester@desktop')
    expect(testid(w, 'ocr-paused').text()).toContain('until resumed here')
    expect(lastNotice()).toMatchObject({ kind: 'success', text: 'Paused the OCR queue: no calls to Baidu until it is resumed.' })
  })

  it('refetches the list when a request changes state', async () => {
    const w = await mountView()
    backend.ocrRequests[2]!.status = 'done'
    backend.push({ kind: 'ocr_updated', request: { ...backend.ocrRequests[2]! } })
    await flushPromises()
    expect(row(w, 3).attributes('data-status')).toBe('done')

    backend.ocrRequests.push(ocrRequest({ id: 5, url: 'https://img.example.com/e.jpg' }))
    backend.push({ kind: 'ocr_updated', request: backend.ocrRequests[4]! })
    await flushPromises()
    expect(rowIds(w)).toEqual([5, 4, 3, 2, 1])
  })

  it('shows the error the core returns for a bad URL next to the form', async () => {
    const w = await mountView()
    await testid(w, 'ocr-submit-url').setValue('ftp://x')
    await testid(w, 'ocr-submit-form').trigger('submit')
    await flushPromises()
    expect(backend.callsTo('ocr_submit')).toEqual([{ url: 'ftp://x', side: 'front' }])
    expect(testid(w, 'ocr-submit-error').text()).toBe('This image URL cannot be used: only http and https images can be recognised. A valid one looks like https://img.example.com/id-front.jpg')
    expect((testid(w, 'ocr-submit-url').element as HTMLInputElement).value).toBe('ftp://x')
    expect(rowIds(w)).toEqual([4, 3, 2, 1])
  })

  it('queues an image by hand with the chosen side and lists it', async () => {
    const w = await mountView()
    await testid(w, 'ocr-submit-url').setValue('https://img.example.com/new.jpg')
    await testid(w, 'ocr-submit-side').setValue('back')
    await testid(w, 'ocr-submit').trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_submit')).toEqual([{ url: 'https://img.example.com/new.jpg', side: 'back' }])
    expect(w.find('[data-testid="ocr-submit-error"]').exists()).toBe(false)
    expect(testid(w, 'ocr-submit-done').attributes('data-request-id')).toBe('5')
    expect((testid(w, 'ocr-submit-url').element as HTMLInputElement).value).toBe('')
    expect(rowIds(w)[0]).toBe(5)
    expect(notices()).toMatchObject([
      { kind: 'success', text: 'Request #5 queued.', link: { to: { name: 'ocr', query: { request: '5' } }, label: 'View request' } },
    ])
  })

  it('says a refusal that is not the URL’s in an error notice', async () => {
    backend.failures.ocr_submit = { code: 'forbidden', message: 'no', params: { role: 'viewer', action: 'queue_images' } }
    const w = await mountView()
    await testid(w, 'ocr-submit-url').setValue('https://img.example.com/new.jpg')
    await testid(w, 'ocr-submit-form').trigger('submit')
    await flushPromises()
    expect(w.find('[data-testid="ocr-submit-error"]').exists()).toBe(false)
    expect(notices()).toMatchObject([{ kind: 'error', title: 'Could not queue the image:', code: 'forbidden' }])
  })

  it('opened by a notice’s link, shows the pending requests or one request’s detail', async () => {
    const { w, router } = await mountRouted('/ocr?status=pending')
    expect(lastList()).toEqual({ query: { offset: 0, limit: 50, status: 'pending' } })
    expect(backend.callsTo('ocr_list')).toHaveLength(1)
    expect((testid(w, 'ocr-filter-status').element as HTMLSelectElement).value).toBe('pending')
    expect(rowIds(w)).toEqual([3])
    expect(router.currentRoute.value.fullPath).toBe('/ocr')

    // While the page is shown: another state chosen by hand, then the link again.
    await testid(w, 'ocr-filter-status').setValue('dead')
    await flushPromises()
    await router.push({ name: 'ocr', query: { status: 'pending' } })
    await flushPromises()
    expect(lastList()).toEqual({ query: { offset: 0, limit: 50, status: 'pending' } })
    expect((testid(w, 'ocr-filter-status').element as HTMLSelectElement).value).toBe('pending')

    await router.push({ name: 'ocr', query: { request: '2' } })
    await flushPromises()
    expect(testid(w, 'ocr-detail').attributes('data-request-id')).toBe('2')
  })

  it('retries the selected dead rows with their ids, and one row by its own button', async () => {
    const w = await mountView()
    const retrySelected = testid(w, 'ocr-retry-selected')
    expect(retrySelected.attributes('disabled')).toBeDefined()

    await row(w, 4).get('[data-testid="ocr-row-select"]').setValue(true)
    await row(w, 2).get('[data-testid="ocr-row-select"]').setValue(true)
    expect(retrySelected.text()).toBe('Retry selected (2)')
    await retrySelected.trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_retry')).toEqual([{ ids: [4, 2] }])
    // Said in a notice that goes by itself, with a link to where the retried ones now wait.
    expect(notices()).toMatchObject([
      { kind: 'success', text: 'Retried 2 requests.', link: { to: { name: 'ocr', query: { status: 'pending' } }, label: 'View' } },
    ])
    expect(row(w, 4).attributes('data-status')).toBe('pending')
    expect(row(w, 2).attributes('data-status')).toBe('pending')
    expect(testid(w, 'ocr-retry-selected').attributes('disabled')).toBeDefined()

    backend.ocrRequests[1]!.status = 'dead'
    backend.push({ kind: 'ocr_updated', request: backend.ocrRequests[1]! })
    await flushPromises()
    await row(w, 2).get('[data-testid="ocr-row-retry"]').trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_retry')).toEqual([{ ids: [4, 2] }, { ids: [2] }])
    // The row button does not open the detail panel.
    expect(w.find('[data-testid="ocr-detail"]').exists()).toBe(false)
  })

  it('purges the dead requests only after the confirmation is accepted', async () => {
    const w = await mountView()
    await testid(w, 'ocr-purge-dead').trigger('click')
    const dialog = testid(w, 'confirm-dialog')
    expect(dialog.text()).toContain('3 dead requests are deleted')
    await testid(w, 'confirm-cancel').trigger('click')
    await flushPromises()
    expect(w.find('[data-testid="confirm-dialog"]').exists()).toBe(false)
    expect(backend.callsTo('ocr_purge_dead')).toEqual([])
    expect(rowIds(w)).toEqual([4, 3, 2, 1])

    await testid(w, 'ocr-purge-dead').trigger('click')
    await testid(w, 'confirm-ok').trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_purge_dead')).toHaveLength(1)
    expect(w.find('[data-testid="confirm-dialog"]').exists()).toBe(false)
    expect(lastNotice()).toMatchObject({ kind: 'success', text: 'Purged 2 dead requests.' })
    expect(rowIds(w)).toEqual([3, 1])
  })

  it('opens a row in the detail panel with the card masked as a whole; Reveal shows it until closed', async () => {
    const w = await mountView()
    await row(w, 1).trigger('click')
    await flushPromises()
    const detail = testid(w, 'ocr-detail')
    expect(detail.attributes('data-request-id')).toBe('1')
    expect(backend.callsTo('ocr_get')).toEqual([{ id: 1 }])
    expect(detail.get('[data-testid="ocr-detail-url"]').text()).toBe('https://img.example.com/a.jpg')
    const masked = () =>
      ['name', 'id-number', 'birth-date', 'address'].map((f) => testid(w, `ocr-detail-${f}`).text())
    expect(masked()).toEqual(['张*', '3201**********1234', '********', '江苏省南京市****'])
    expect(testid(w, 'ocr-detail-card').text()).toContain('name, number, birth date and address masked')
    // Nothing of the card in the clear anywhere in the panel.
    for (const clear of ['张三', '1990', '19900101', '玄武区', '中山路']) expect(detail.text()).not.toContain(clear)
    expect(backend.callsTo('ocr_reveal')).toEqual([])

    await testid(w, 'ocr-reveal').trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_reveal')).toEqual([{ id: 1 }])
    expect(masked()).toEqual(['张三', '320102199001011234', '1990-01-01', '江苏省南京市玄武区中山路18号'])
    expect(testid(w, 'ocr-detail-card').text()).toContain('the reveal is audited')
    expect(lastNotice()?.text).toBe('Revealed the ID card of request #1; the reveal is in the audit log.')
    expect(w.find('[data-testid="ocr-reveal"]').exists()).toBe(false)

    // A live update of the open request keeps the revealed number while the panel stays open.
    backend.push({ kind: 'ocr_updated', request: { ...backend.ocrRequests[0]!, attempts: 2 } })
    await flushPromises()
    expect(testid(w, 'ocr-detail-attempts').text()).toBe('2')
    expect(masked()).toEqual(['张三', '320102199001011234', '1990-01-01', '江苏省南京市玄武区中山路18号'])

    await testid(w, 'ocr-detail-close').trigger('click')
    expect(w.find('[data-testid="ocr-detail"]').exists()).toBe(false)
    await row(w, 1).trigger('click')
    await flushPromises()
    expect(masked()).toEqual(['张*', '3201**********1234', '********', '江苏省南京市****'])
  })

  it('shows the error of a dead request and its calls to Baidu in its detail, not "No result yet."', async () => {
    backend.ocrAttemptLog[2] = [
      {
        attempt: 1,
        at: '2026-01-10T02:00:00Z',
        outcome: 'retry',
        error_code: 282000,
        message: 'Baidu error 282000: internal error',
        duration_ms: 120,
        instance: 'host-a',
      },
      {
        attempt: 2,
        at: '2026-01-10T02:00:30Z',
        outcome: 'dead',
        error_code: 216201,
        message: 'Baidu error 216201: image format error',
        duration_ms: 85,
        instance: 'host-a',
      },
    ]
    const w = await mountView()
    await row(w, 2).trigger('click')
    await flushPromises()
    expect(testid(w, 'ocr-detail-error').text()).toContain('Baidu error 216201: image format error')
    expect(testid(w, 'ocr-detail-error').text()).toContain('216201')
    expect(w.find('[data-testid="ocr-reveal"]').exists()).toBe(false)
    expect(w.find('[data-testid="ocr-detail-no-result"]').exists()).toBe(false)
    const calls = w.findAll('[data-testid="ocr-attempt"]')
    expect(calls.map((c) => c.attributes('data-outcome'))).toEqual(['retry', 'dead'])
    // Times in the app's zone (Europe/Berlin), in the console's format.
    expect(calls[0]!.text()).toContain('Jan 10, 2026, 03:00:00')
    expect(calls.map((c) => c.get('[data-testid="ocr-attempt-outcome"]').text())).toEqual([
      'failed, retried later',
      'failed, given up',
    ])
    expect(calls.map((c) => c.get('[data-testid="ocr-attempt-code"]').text())).toEqual(['282000', '216201'])
    expect(calls[1]!.get('[data-testid="ocr-attempt-message"]').text()).toBe('Baidu error 216201: image format error')
    expect(calls[1]!.text()).toContain('85 ms')
    // A pending one has no call yet, and a result may still come.
    await testid(w, 'ocr-detail-close').trigger('click')
    await row(w, 3).trigger('click')
    await flushPromises()
    expect(testid(w, 'ocr-attempts-empty').text()).toBe('No call made yet.')
    expect(w.find('[data-testid="ocr-detail-no-result"]').exists()).toBe(true)
  })

  it('cancels a pending row after a confirmation, and the selected pending ones from the bulk bar', async () => {
    backend.ocrRequests.push(ocrRequest({ id: 5, url: 'https://img.example.com/e.jpg', status: 'pending' }))
    const w = await mountView()
    // Only pending rows can be cancelled; dead ones retried.
    expect(row(w, 2).find('[data-testid="ocr-row-cancel"]').exists()).toBe(false)
    expect(row(w, 1).find('[data-testid="ocr-row-cancel"]').exists()).toBe(false)
    await row(w, 3).get('[data-testid="ocr-row-cancel"]').trigger('click')
    expect(testid(w, 'confirm-dialog').text()).toContain('Request #3 will not be sent to Baidu.')
    await testid(w, 'confirm-cancel').trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_cancel')).toEqual([])
    expect(w.find('[data-testid="ocr-detail"]').exists()).toBe(false)

    await row(w, 3).get('[data-testid="ocr-row-cancel"]').trigger('click')
    await testid(w, 'confirm-ok').trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_cancel')).toEqual([{ ids: [3] }])
    expect(notices()).toMatchObject([
      { kind: 'success', text: 'Cancelled 1 request.', link: { to: { name: 'ocr', query: { status: 'cancelled' } } } },
    ])
    expect(row(w, 3).attributes('data-status')).toBe('cancelled')
    expect(row(w, 3).find('[data-testid="ocr-row-cancel"]').exists()).toBe(false)

    // The bulk bar: the selected pending rows (dead ones selected too are for Retry).
    const cancelSelected = testid(w, 'ocr-cancel-selected')
    expect(cancelSelected.attributes('disabled')).toBeDefined()
    await row(w, 5).get('[data-testid="ocr-row-select"]').setValue(true)
    await row(w, 4).get('[data-testid="ocr-row-select"]').setValue(true)
    expect(cancelSelected.text()).toBe('Cancel selected (1)')
    expect(testid(w, 'ocr-retry-selected').text()).toBe('Retry selected (1)')
    await cancelSelected.trigger('click')
    expect(testid(w, 'confirm-dialog').text()).toContain('Request #5 will not be sent to Baidu.')
    await testid(w, 'confirm-ok').trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_cancel')).toEqual([{ ids: [3] }, { ids: [5] }])
    expect(row(w, 5).attributes('data-status')).toBe('cancelled')
  })

  it('says a retried request that fails again, with its error, in place of "Retried 1 request."', async () => {
    const w = await mountView()
    await row(w, 2).get('[data-testid="ocr-row-retry"]').trigger('click')
    await flushPromises()
    expect(notices()).toMatchObject([{ kind: 'success', text: 'Retried 1 request.' }])
    backend.push({ kind: 'ocr_updated', request: { ...backend.ocrRequests[1]!, status: 'in_flight', error: null } })
    backend.push({
      kind: 'ocr_updated',
      request: { ...backend.ocrRequests[1]!, status: 'dead', error: 'Baidu error 216201: image format error' },
    })
    await flushPromises()
    expect(notices()).toMatchObject([
      {
        kind: 'error',
        title: 'Request #2 failed again:',
        text: 'Baidu error 216201: image format error',
        link: { to: { name: 'ocr', query: { request: '2' } }, label: 'View request' },
      },
    ])
  })

  it('filters by error and by a date range in the app zone, and sorts by a header', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    backend.ocrRequests[0]!.created_at = '2026-01-09T02:00:00Z'
    backend.ocrRequests[1]!.created_at = '2026-01-10T02:00:00Z'
    backend.ocrRequests[2]!.created_at = '2026-01-10T03:00:00Z'
    backend.ocrRequests[3]!.created_at = '2026-01-11T02:00:00Z'
    const w = await mountView()
    await testid(w, 'ocr-search-error').setValue('216201')
    vi.advanceTimersByTime(300)
    await flushPromises()
    expect(lastList()).toEqual({ query: { offset: 0, limit: 50, error: '216201' } })
    expect(rowIds(w)).toEqual([2])
    await testid(w, 'ocr-search-error').setValue('')
    vi.advanceTimersByTime(300)
    await flushPromises()

    // Typed as the console writes dates, read in the app's zone (Europe/Berlin, UTC+1).
    const from = testid(w, 'ocr-filter-from')
    await from.setValue('2026-01-10 03:00')
    await from.trigger('change')
    await from.trigger('blur')
    const to = testid(w, 'ocr-filter-to')
    await to.setValue('2026-01-11 00:00')
    await to.trigger('change')
    await to.trigger('blur')
    await flushPromises()
    expect(lastList()).toEqual({
      query: { offset: 0, limit: 50, from: '2026-01-10T03:00:00+01:00', to: '2026-01-11T00:00:00+01:00' },
    })
    expect(rowIds(w)).toEqual([3, 2])

    // A header asks the core to sort; again, the other way.
    await w.get('[data-sort-key="attempts"]').trigger('click')
    await flushPromises()
    expect(lastList()).toMatchObject({ query: { sort: 'attempts', desc: true } })
    await w.get('[data-sort-key="attempts"]').trigger('click')
    await flushPromises()
    expect(lastList()).toMatchObject({ query: { sort: 'attempts', desc: false } })
    expect(rowIds(w)).toEqual([3, 2])
  })

  it('shows the core’s cap validation error next to the field, and applies a valid cap', async () => {
    const w = await mountView()
    const input = testid(w, 'ocr-cap-input')
    expect((input.element as HTMLInputElement).value).toBe('2')

    await input.setValue('5000')
    await testid(w, 'ocr-cap-apply').trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_set_cap')).toEqual([{ cap: 5000 }])
    expect(testid(w, 'ocr-cap-error').text()).toBe('The cap must be from 0.1 to 1000 calls per second.')
    expect(w.find('[data-testid="error-banner"]').exists()).toBe(false)
    expect(testid(w, 'ocr-cap').text()).toBe('2 calls/s')

    // Typing clears the error; a valid cap is applied and shown.
    await input.setValue('3.5')
    expect(w.find('[data-testid="ocr-cap-error"]').exists()).toBe(false)
    await testid(w, 'ocr-cap-apply').trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_set_cap')).toEqual([{ cap: 5000 }, { cap: 3.5 }])
    expect(testid(w, 'ocr-cap').text()).toBe('3.5 calls/s')
    // The refused value was the field's error, not a notice; the applied one is.
    expect(notices().map((n) => [n.kind, n.text])).toEqual([['success', 'OCR calls are capped at 3.5 per second.']])
    expect(testid(w, 'ocr-controls').text()).toContain('set in the console')
  })

  it('refuses an empty cap without calling the core', async () => {
    const w = await mountView()
    await testid(w, 'ocr-cap-input').setValue('')
    await testid(w, 'ocr-cap-apply').trigger('click')
    await flushPromises()
    expect(backend.callsTo('ocr_set_cap')).toEqual([])
    expect(testid(w, 'ocr-cap-error').text()).toBe('Enter the calls per second as a number.')
  })

  it('filters by state at once and searches by URL after typing stops', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const w = await mountView()
    await testid(w, 'ocr-filter-status').setValue('dead')
    await flushPromises()
    expect(lastList()).toEqual({ query: { offset: 0, limit: 50, status: 'dead' } })
    expect(rowIds(w)).toEqual([4, 2])

    await testid(w, 'ocr-search').setValue('b.jpg')
    await flushPromises()
    expect(backend.callsTo('ocr_list')).toHaveLength(2)
    vi.advanceTimersByTime(300)
    await flushPromises()
    expect(lastList()).toEqual({
      query: { offset: 0, limit: 50, status: 'dead', search: 'b.jpg' },
    })
    expect(rowIds(w)).toEqual([2])
  })

  it('pages through the list with the footer buttons', async () => {
    backend.ocrRequests = Array.from({ length: 120 }, (_, i) => ocrRequest({ id: i + 1, url: `https://img.example.com/${i + 1}.jpg` }))
    const w = await mountView()
    expect(testid(w, 'ocr-page-range').text()).toBe('1–50 of 120')
    expect(testid(w, 'ocr-page-prev').attributes('disabled')).toBeDefined()
    await testid(w, 'ocr-page-next').trigger('click')
    await flushPromises()
    expect(lastList()).toEqual({ query: { offset: 50, limit: 50 } })
    expect(rowIds(w)[0]).toBe(70)
    await testid(w, 'ocr-page-next').trigger('click')
    await flushPromises()
    expect(testid(w, 'ocr-page-range').text()).toBe('101–120 of 120')
    expect(testid(w, 'ocr-page-next').attributes('disabled')).toBeDefined()
    await testid(w, 'ocr-page-prev').trigger('click')
    await flushPromises()
    expect(testid(w, 'ocr-page-range').text()).toBe('51–100 of 120')
  })

  it('unsubscribes from core events when left', async () => {
    const w = await mountView()
    expect(backend.listenerCount).toBe(1)
    w.unmount()
    wrapper = undefined
    expect(backend.listenerCount).toBe(0)
  })
})

describe('OcrView for a viewer', () => {
  it('shows the queue with every action disabled, saying why', async () => {
    backend.session = staffMember({ role: 'viewer' })
    const w = await mountView()
    expect(rowIds(w)).toEqual([4, 3, 2, 1])
    for (const [id, why] of [
      ['ocr-pause', 'Your role (viewer) cannot pause the queue'],
      ['ocr-cap-apply', 'Your role (viewer) cannot change the cap'],
      ['ocr-submit', 'Your role (viewer) cannot queue images'],
      ['ocr-purge-dead', 'Your role (viewer) cannot purge dead requests'],
      ['ocr-retry-selected', 'Your role (viewer) cannot retry requests'],
      ['ocr-cancel-selected', 'Your role (viewer) cannot cancel requests'],
    ] as const) {
      expect(testid(w, id).attributes('disabled'), id).toBeDefined()
      expect(testid(w, id).attributes('title'), id).toBe(why)
    }
    expect(row(w, 2).get('[data-testid="ocr-row-retry"]').attributes('disabled')).toBeDefined()
    expect(row(w, 3).get('[data-testid="ocr-row-cancel"]').attributes('disabled')).toBeDefined()

    await row(w, 1).trigger('click')
    await flushPromises()
    expect(testid(w, 'ocr-reveal').attributes('disabled')).toBeDefined()
    expect(testid(w, 'ocr-reveal').attributes('title')).toBe('Your role (viewer) cannot reveal ID numbers')
  })

  it('says the core’s refusal in an error notice', async () => {
    backend.failures.ocr_pause = { code: 'forbidden', message: 'a viewer cannot pause the OCR queue', params: { role: 'viewer', action: 'pause_the_ocr_queue' } }
    const w = await mountView()
    await testid(w, 'ocr-pause').trigger('click')
    await flushPromises()
    expect(w.find('[data-testid="error-banner"]').exists()).toBe(false)
    expect(notices()).toMatchObject([
      { kind: 'error', title: 'Could not pause the queue:', text: 'Your role (viewer) cannot pause the OCR queue.' },
    ])
  })
})
