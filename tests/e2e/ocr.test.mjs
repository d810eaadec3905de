// The OCR queue page in the real desktop window, in sandbox mode (no Baidu credentials: the app
// starts its built-in fake Baidu). Staff queue an image the fake refuses once (216201, dead at
// once), see that call in its detail, find it by its error, retry it, and it is recognised; the
// ID card shows masked (number, birth date, address) until revealed. A request that fails again
// after a retry says so. A request cancelled while the queue is paused is never called. A bad URL
// is refused in the form, and so is an out-of-range cap.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { openConsole, signIn, waitFor } from './harness.mjs'

let opened
let app

before(async () => {
  opened = await openConsole('ocr', { OPSDECK_LOG: 'warn' })
  app = opened.app
  await signIn(app) // staff actions need a signed-in operator or admin (the first sign-in is admin)
  await app.click('[data-testid="nav-ocr"]')
  await waitFor('the OCR page', async () => (await app.text('[data-testid="page-title"]')) === 'OCR queue')
})

after(async () => {
  await opened?.close()
})

const row = (id) => `[data-testid="ocr-row"][data-request-id="${id}"]`

/** Queues `url` as a portrait side; its request id once the form says it was queued. */
async function submit(url) {
  const before = await app.attribute('[data-testid="ocr-submit-done"]', 'data-request-id')
  await app.type('[data-testid="ocr-submit-url"]', url)
  await app.select('[data-testid="ocr-submit-side"]', 'front')
  await app.click('[data-testid="ocr-submit"]')
  return waitFor(`the submission of ${url} to be acknowledged`, async () => {
    const id = await app.attribute('[data-testid="ocr-submit-done"]', 'data-request-id')
    return id && id !== before ? id : null
  })
}

const uniqueUrl = (stem, query = '') => `https://img.example.com/e2e-${stem}-${Date.now()}-${process.pid}.jpg${query}`

/** Opens a request's detail; its calls to Baidu once listed: [{ outcome, code, message }]. */
async function openCalls(id, count) {
  await app.click(`${row(id)} [data-testid="ocr-row-url"]`)
  await waitFor(`the detail of request ${id}`, async () => (await app.attribute('[data-testid="ocr-detail"]', 'data-request-id')) === id)
  if (count === 0) {
    await waitFor('"No call made yet."', () => app.find('[data-testid="ocr-attempts-empty"]'))
    return []
  }
  return waitFor(`${count} calls in the detail of request ${id}`, async () => {
    const rows = await app.findAll('[data-testid="ocr-attempt"]')
    if (rows.length !== count) return null
    const calls = []
    for (const r of rows) {
      const outcome = await app.elementAttribute(r, 'data-outcome')
      const text = await app.elementText(r)
      calls.push({ outcome, text })
    }
    return calls
  })
}

async function closeDetail() {
  await app.click('[data-testid="ocr-detail-close"]')
  await waitFor('the detail panel to close', async () => (await app.find('[data-testid="ocr-detail"]')) === null)
}

/** The notices' titles and texts on screen. */
async function noticeTexts() {
  const out = []
  for (const n of await app.findAll('[data-testid="notice"]')) out.push(await app.elementText(n))
  return out
}

/** What one row shows right now, or null when it is not listed. */
async function rowState(id) {
  const status = await app.attribute(row(id), 'data-status')
  if (status === null) return null
  return { status, error: (await app.text(`${row(id)} [data-testid="ocr-row-error"]`)) ?? '' }
}

test('the page shows the live figures in sandbox mode', async () => {
  await waitFor('the sandbox badge', () => app.find('[data-testid="ocr-sandbox"]'))
  for (const state of ['pending', 'in_flight', 'done', 'dead']) {
    const count = await app.text(`[data-testid="ocr-count-${state}"]`)
    assert.match(count ?? '', /^\d+$/, `the ${state} count is a number`)
  }
  assert.match((await app.text('[data-testid="ocr-cap"]')) ?? '', /calls\/s/)
  assert.notEqual(await app.find('[data-testid="ocr-chart"] canvas'), null, 'the calls chart is drawn')
})

test('a URL that is not http(s) is refused, saying why and what a valid one looks like', async () => {
  await app.type('[data-testid="ocr-submit-url"]', 'ftp://x')
  await app.click('[data-testid="ocr-submit"]')
  const error = await waitFor('the submit error', async () => {
    const text = await app.text('[data-testid="ocr-submit-error"]')
    return text && /http and https/.test(text) ? text : null
  })
  assert.match(error, /https:\/\/\S+\.jpg/, 'a valid example is given')
})

test('an image Baidu refuses dies at once; a retry recognises it, and the ID number is revealed on demand', async () => {
  const url = `https://img.example.com/e2e-${Date.now()}-${process.pid}.jpg?fail=216201&times=1`
  await app.type('[data-testid="ocr-submit-url"]', url)
  await app.select('[data-testid="ocr-submit-side"]', 'front')
  await app.click('[data-testid="ocr-submit"]')
  const id = await waitFor('the submission to be acknowledged', () =>
    app.attribute('[data-testid="ocr-submit-done"]', 'data-request-id'),
  )
  assert.equal(await app.find('[data-testid="ocr-submit-error"]'), null, 'no submit error')

  const dead = await waitFor(
    `request ${id} dead with Baidu's error`,
    async () => {
      const state = await rowState(id)
      return state?.status === 'dead' && /216201/.test(state.error) ? state : null
    },
    { timeoutMs: 20_000 },
  )
  assert.match(dead.error, /216201/)
  assert.equal(await app.attribute(`${row(id)} [data-testid="ocr-row-url"]`, 'title'), url, 'the full URL is the title')
  await app.screenshot('ocr-dead')

  // Its detail shows the call that killed it, with Baidu's code, not "No result yet.".
  const calls = await openCalls(id, 1)
  assert.equal(calls[0].outcome, 'dead')
  assert.match(calls[0].text, /216201/)
  assert.match(calls[0].text, /image format error/)
  assert.equal(await app.find('[data-testid="ocr-detail-no-result"]'), null)
  await app.screenshot('ocr-dead-calls')
  await closeDetail()

  // Found by its error: Baidu's code typed in the error search lists it, and only such rows.
  await app.type('[data-testid="ocr-search-error"]', '216201')
  await waitFor('only rows failing with 216201', async () => {
    const rows = await app.findAll('[data-testid="ocr-row"]')
    if (rows.length === 0 || (await rowState(id)) === null) return false
    for (const r of rows) {
      const rid = await app.elementAttribute(r, 'data-request-id')
      if (!/216201/.test((await rowState(rid))?.error ?? '')) return false
    }
    return true
  })
  await app.type('[data-testid="ocr-search-error"]', 'no such error text anywhere')
  await waitFor('no row for an error nobody had', async () => (await app.findAll('[data-testid="ocr-row"]')).length === 0)
  await app.click('[data-testid="ocr-clear-filters"]')
  await waitFor(`request ${id} listed again`, async () => (await rowState(id)) !== null)

  await app.click(`${row(id)} [data-testid="ocr-row-retry"]`)
  await waitFor(`request ${id} done after the retry`, async () => (await rowState(id))?.status === 'done', {
    timeoutMs: 20_000,
  })
  assert.equal(await app.find(`${row(id)} [data-testid="ocr-row-retry"]`), null, 'no Retry on a done row')

  // Both calls in its history: the refused one, then the one after the retry.
  const history = await openCalls(id, 2)
  assert.deepEqual(history.map((c) => c.outcome), ['dead', 'ok'])
  const masked = await waitFor('the masked ID number', () => app.text('[data-testid="ocr-detail-id-number"]'))
  assert.match(masked, /^\d{4}\*{10}[\dX]{4}$/, `masked: ${masked}`)
  // The rest of the card is masked too: no birth date, the address at most to the city.
  assert.equal(await app.text('[data-testid="ocr-detail-birth-date"]'), '********')
  assert.match((await app.text('[data-testid="ocr-detail-address"]')) ?? '', /^[^\d]*\*{4}$/)

  await app.click('[data-testid="ocr-reveal"]')
  const revealed = await waitFor('the revealed ID number', async () => {
    const text = await app.text('[data-testid="ocr-detail-id-number"]')
    return text && !text.includes('*') ? text : null
  })
  assert.match(revealed, /^\d{17}[\dX]$/, `revealed: ${revealed}`)
  assert.equal(revealed.slice(0, 4), masked.slice(0, 4))
  assert.equal(revealed.slice(-4), masked.slice(-4))
  // Revealed as a whole: the birth date is the number's digits 7-14.
  const born = revealed.slice(6, 14)
  assert.equal(await app.text('[data-testid="ocr-detail-birth-date"]'), `${born.slice(0, 4)}-${born.slice(4, 6)}-${born.slice(6)}`)
  await app.screenshot('ocr-detail-revealed')

  await app.click('[data-testid="ocr-detail-close"]')
  await waitFor('the detail panel to close', async () => (await app.find('[data-testid="ocr-detail"]')) === null)
})

test('a retried request that fails again says so, with its error', async () => {
  const id = await submit(uniqueUrl('again', '?fail=216201&times=2'))
  await waitFor(`request ${id} dead`, async () => (await rowState(id))?.status === 'dead', { timeoutMs: 20_000 })
  await app.click(`${row(id)} [data-testid="ocr-row-retry"]`)
  const said = await waitFor(
    'a notice that it failed again',
    async () => (await noticeTexts()).find((text) => text.includes(`Request #${id} failed again`)) ?? null,
    { timeoutMs: 20_000 },
  )
  assert.match(said, /216201/)
  assert.ok(!(await noticeTexts()).some((text) => /Retried 1 request/.test(text)), 'the retry\'s notice is replaced')
  await app.screenshot('ocr-failed-again')
})

test('a request cancelled while pending is never called, and says so in its detail', async () => {
  await app.click('[data-testid="ocr-pause"]')
  await waitFor('the queue paused', async () => /paused by/.test((await app.text('[data-testid="ocr-paused-reason"]')) ?? ''))
  const id = await submit(uniqueUrl('cancel'))
  await waitFor(`request ${id} pending`, async () => (await rowState(id))?.status === 'pending')
  await app.click(`${row(id)} [data-testid="ocr-row-cancel"]`)
  await waitFor('the confirmation', async () => /will not be sent to Baidu/.test((await app.text('[data-testid="confirm-dialog"]')) ?? ''))
  await app.click('[data-testid="confirm-ok"]')
  await waitFor(`request ${id} cancelled`, async () => (await rowState(id))?.status === 'cancelled')
  assert.equal(await app.find(`${row(id)} [data-testid="ocr-row-cancel"]`), null, 'no Cancel on a cancelled row')

  // Resumed: a request queued after it is recognised, so the queue read past the cancelled one.
  await app.click('[data-testid="ocr-resume"]')
  await waitFor('the queue running again', () => app.find('[data-testid="ocr-running"]'))
  const later = await submit(uniqueUrl('after-cancel'))
  await waitFor(`request ${later} done`, async () => (await rowState(later))?.status === 'done', { timeoutMs: 20_000 })
  assert.equal((await rowState(id))?.status, 'cancelled')
  await openCalls(id, 0)
  assert.match((await app.text('[data-testid="ocr-detail-cancelled"]')) ?? '', /not sent to Baidu/)
  await app.screenshot('ocr-cancelled')
  await closeDetail()
})

test('an out-of-range cap is refused next to the field; pause and resume', async () => {
  await app.type('[data-testid="ocr-cap-input"]', '5000')
  await app.click('[data-testid="ocr-cap-apply"]')
  // The catalogue's sentence with the core's limits (params min and max).
  await waitFor('the cap error', async () =>
    /from [\d.]+ to [\d.]+ calls per second/.test((await app.text('[data-testid="ocr-cap-error"]')) ?? ''),
  )

  await app.type('[data-testid="ocr-cap-input"]', '3')
  await app.click('[data-testid="ocr-cap-apply"]')
  await waitFor('the new cap', async () => (await app.text('[data-testid="ocr-cap"]'))?.trim() === '3 calls/s')

  await app.click('[data-testid="ocr-pause"]')
  await waitFor('the paused reason', async () => /paused by/.test((await app.text('[data-testid="ocr-paused-reason"]')) ?? ''))
  await app.click('[data-testid="ocr-resume"]')
  await waitFor('the queue running again', () => app.find('[data-testid="ocr-running"]'))
  await app.screenshot('ocr-queue')
})
