// Reasons and errors in Chinese, in the real desktop window (sandbox mode): with the console in
// zh-CN, an order the sweep cancelled shows why in Chinese (the core keeps the reason as a code
// and its params, not as English text), and a refused cron expression says which field is wrong,
// where, and what a valid one looks like, in Chinese; the only Latin letters are the cron text.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { openConsole, signIn, waitFor } from './harness.mjs'

let opened
let app

const SKU = `E2E-ZH-${Date.now()}-${process.pid}`
/** A Latin word of three letters or more: English that must not be on a zh-CN screen. */
const ENGLISH = /[A-Za-z]{3,}/

before(async () => {
  opened = await openConsole('errors', { OPSDECK_LOG: 'warn', OPSDECK_ORDER_EXPIRY_SECONDS: '5' })
  app = opened.app
  await signIn(app) // the first sign-in is admin
  await app.click('[data-testid="nav-settings"]')
  await app.select('[data-testid="settings-language"]', 'zh-CN')
  await waitFor('the console in Chinese', async () => (await app.text('[data-testid="nav-orders"]'))?.trim() === '订单')
})

after(async () => {
  try {
    // Back to English for whoever comes next (the choice is kept on this computer).
    await app?.click('[data-testid="nav-settings"]')
    await app?.select('[data-testid="settings-language"]', 'en')
  } finally {
    await opened?.close()
  }
})

test('zh-CN: the reason of an order the sweep cancelled is in Chinese', async () => {
  await app.click('[data-testid="nav-orders"]')
  await app.mustFind('[data-testid="orders-list"]')
  await app.click('[data-testid="orders-tools-toggle"]')
  await app.type('[data-testid="new-goods-sku"]', SKU)
  await app.type('[data-testid="new-goods-name"]', '测试杯子')
  await app.type('[data-testid="new-goods-price"]', '12.50')
  await app.type('[data-testid="new-goods-stock"]', '10')
  await app.click('[data-testid="new-goods-submit"]')
  const goodsRow = `[data-testid="goods-row"][data-sku="${SKU}"]`
  const goodsId = await waitFor('the new goods row', () => app.attribute(goodsRow, 'data-goods-id'))
  await app.select('[data-testid="new-order-goods"]', goodsId)
  await app.type('[data-testid="new-order-quantity"]', '1')
  await app.type('[data-testid="new-order-user"]', '10086')
  await app.click('[data-testid="new-order-submit"]')
  const no = await waitFor('the order to be placed', () => app.attribute('[data-testid="new-order-done"]', 'data-order-no'))

  // Expiry 5 s, the sweep every 10 s: cancelled well within 40 s.
  await app.click('[data-testid="orders-tab-cancelled"]')
  await app.mustFind('[data-testid="cancelled-list"]')
  const row = `[data-testid="cancelled-row"][data-order-no="${no}"]`
  const reason = await waitFor(`order ${no} in the Cancelled tab with its reason`, () => app.text(`${row} [data-testid="cancelled-reason"]`), {
    timeoutMs: 40_000,
    intervalMs: 250,
  })
  assert.equal(reason.trim(), '下单后 5 秒未支付')
  assert.doesNotMatch(reason, ENGLISH, `English in the reason: ${reason}`)
  await app.screenshot('errors-zh-CN-cancel-reason')
})

test('zh-CN: a refused cron expression names the field, its position and an example, in Chinese', async () => {
  await app.click('[data-testid="nav-jobs"]')
  await app.click('[data-testid="job-add"]')
  await app.mustFind('[data-testid="job-form"]')
  await app.select('[data-testid="trigger-type"]', 'cron')
  await app.type('[data-testid="trigger-cron"]', '0 0 1DAY * *')
  const error = '[data-testid="field-error"][data-field="trigger"]'
  const text = await waitFor('the trigger error from the preview', async () => {
    const shown = await app.text(error)
    return shown && /1DAY/.test(shown) ? shown : null
  })
  assert.equal(text.trim(), 'cron 表达式的第 3 个字段（日期）“1DAY”无效；有效示例：1。')
  // Outside the cron text itself (the word cron and the value quoted), no English at all: neither
  // ours nor the cron library's ("illegal character 'D' in part '1DAY'").
  const rest = text.replace('cron', '').replace('“1DAY”', '')
  assert.doesNotMatch(rest, ENGLISH, `English in the error: ${text}`)
  await app.screenshot('errors-zh-CN-cron')
  await app.click('[data-testid="job-cancel"]')
  await waitFor('the form to close', async () => (await app.find('[data-testid="job-form"]')) === null)
})
