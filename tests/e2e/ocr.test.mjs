// The OCR queue page in the real desktop window, in sandbox mode (no Baidu credentials: the app
// starts its built-in fake Baidu). Staff queue an image the fake refuses once (216201, dead at
// once), retry it, and it is recognised; the ID card shows masked (number, birth date, address)
// until revealed. A bad URL is refused in the form, and so is an out-of-range cap.

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

  await app.click(`${row(id)} [data-testid="ocr-row-retry"]`)
  await waitFor(`request ${id} done after the retry`, async () => (await rowState(id))?.status === 'done', {
    timeoutMs: 20_000,
  })
  assert.equal(await app.find(`${row(id)} [data-testid="ocr-row-retry"]`), null, 'no Retry on a done row')

  await app.click(`${row(id)} [data-testid="ocr-row-url"]`)
  await waitFor('the detail panel of the request', async () => (await app.attribute('[data-testid="ocr-detail"]', 'data-request-id')) === id)
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
