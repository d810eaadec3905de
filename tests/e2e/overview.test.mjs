// The Overview in sandbox mode, in the real desktop window: with no provider configured the
// console says it is in sandbox mode, the simulated shop places orders and sends ID cards, and
// within minutes the Overview shows orders expiring and OCR results arriving, pushed by the
// core. Every figure links to its page. Screenshots of the Overview in English and Chinese.

import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { after, before, test } from 'node:test'

import { openConsole, signIn, waitFor } from './harness.mjs'

let opened
let app

before(async () => {
  // Nothing configured: sandbox mode proper, with the shop on and fast (it is off by default in
  // the other tests). Orders expire 10 s after they are placed; the sweep runs every 10 s.
  opened = await openConsole('overview', {
    OPSDECK_SANDBOX_SHOP: 'true',
    OPSDECK_SANDBOX_ORDERS_PER_MINUTE: '60',
    OPSDECK_SANDBOX_OCR_PER_MINUTE: '60',
    OPSDECK_SANDBOX_PAY_RATIO: '0.5',
    OPSDECK_SANDBOX_ORDER_EXPIRY_SECONDS: '10',
  })
  ;({ app } = opened)
  await signIn(app)
})

after(async () => {
  await opened?.close()
})

const title = () => app.text('[data-testid="page-title"]')
const tile = async (name) => {
  const text = await app.text(`[data-testid="tile-${name}"] [data-testid="tile-value"]`)
  return text === null ? NaN : Number(text.replace(/[^0-9.]/g, ''))
}

test('sandbox mode: the overview shows orders expiring and OCR results arriving', async () => {
  await waitFor('the Overview page', async () => (await title()) === 'Overview')
  await waitFor('the sandbox badge', async () => (await app.find('[data-testid="overview-sandbox"]')) !== null)
  await waitFor('an order cancelled by the expiry sweep', async () => (await tile('orders-cancelled')) > 0, {
    timeoutMs: 180_000,
    intervalMs: 1_000,
  })
  await waitFor('OCR results arriving', async () => (await tile('ocr-done')) > 0, { timeoutMs: 180_000, intervalMs: 1_000 })
  const cancelled = await app.text('[data-testid="overview-cancelled"]')
  assert.match(cancelled ?? '', /\d/, 'the latest cancelled orders are listed')
  const recent = await app.text('[data-testid="overview-ocr-recent"]')
  assert.ok(recent && recent.includes('#'), 'the latest OCR results are listed')
  const instances = await app.text('[data-testid="overview-instances"]')
  assert.match(instances ?? '', /this one/, 'this instance is online')
  await waitFor('a depth sample in the chart', async () => Number(await app.attribute('[data-testid="overview-ocr-chart"]', 'data-samples')) > 0, {
    timeoutMs: 60_000,
    intervalMs: 1_000,
  })
  const shot = await app.screenshot('overview-en')
  assert.ok(shot.endsWith('.png'))
})

test('every figure links to its page', async () => {
  for (const [name, heading] of [
    ['orders-pending', 'Orders'],
    ['ocr-waiting', 'OCR queue'],
  ]) {
    await app.click('[data-testid="nav-overview"]')
    await waitFor('the Overview page', async () => (await title()) === 'Overview')
    await app.click(`[data-testid="tile-${name}"]`)
    await waitFor(`the ${heading} page from the ${name} tile`, async () => (await title()) === heading)
  }
})

test('the overview in Chinese, switched in the settings', async () => {
  await app.click('[data-testid="nav-settings"]')
  await app.select('[data-testid="settings-language"]', 'zh-CN')
  await app.click('[data-testid="nav-overview"]')
  await waitFor('the Overview in Chinese', async () => (await title()) === '总览')
  await waitFor('the sandbox badge in Chinese', async () => (await app.text('[data-testid="overview-sandbox"]'))?.trim() === '沙盒模式')
  const nav = await app.text('[data-testid="nav-orders"]')
  assert.equal(nav?.trim(), '订单')
  // The window can draw it: fontconfig has a font for Simplified Chinese (else WebKitGTK draws boxes
  // and the screenshot shows nothing readable).
  const cjk = execFileSync('fc-list', [':lang=zh-cn', 'family'], { encoding: 'utf8' }).trim()
  assert.ok(cjk.length > 0, 'no font for zh-CN is installed (the run and test commands install fonts-noto-cjk)')
  const shot = await app.screenshot('overview-zh-CN')
  assert.ok(shot.endsWith('.png'))
  // Back to English for whoever comes next.
  await app.click('[data-testid="nav-settings"]')
  await app.select('[data-testid="settings-language"]', 'en')
  await app.click('[data-testid="nav-overview"]')
  await waitFor('the Overview in English again', async () => (await title()) === 'Overview')
})
