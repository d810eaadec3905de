// The Audit page in the real desktop window: two different actions done in the console (goods
// added, an order placed, on the Orders page, whose per-minute chart counts the order), then the
// log filtered by action family and by search shows only the matching sentences, and a sortable
// header sorts the whole log on the core.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { openConsole, signIn, waitFor } from './harness.mjs'

let opened
let app

const SKU = `AUDIT-${Date.now()}-${process.pid}`
let ORDER_NO

before(async () => {
  opened = await openConsole('audit', { OPSDECK_LOG: 'warn' })
  app = opened.app
  await signIn(app) // the first sign-in is admin: it may add goods and place orders
})

after(async () => {
  await opened?.close()
})

const title = () => app.text('[data-testid="page-title"]')

/** The rows shown: their action codes and sentences, in order. */
async function rows() {
  return app.execute(`
    return [...document.querySelectorAll('[data-testid="audit-row"]')].map((r) => ({
      action: r.getAttribute('data-action'),
      text: r.querySelector('[data-testid="audit-sentence"]')?.textContent.trim() ?? null,
    }))
  `)
}

/** Waits until the rows shown satisfy `ok` (the filters apply on the core, asynchronously). */
async function rowsUntil(what, ok) {
  return waitFor(what, async () => {
    const shown = await rows()
    return shown.length > 0 && ok(shown) ? shown : null
  })
}

async function clearFilters() {
  if (await app.find('[data-testid="audit-clear"]')) await app.click('[data-testid="audit-clear"]')
  await waitFor('the filters cleared', async () => (await app.find('[data-testid="audit-clear"]')) === null)
}

test('two actions on the Orders page, counted by its chart', async () => {
  await app.click('[data-testid="nav-orders"]')
  await waitFor('the Orders page', async () => (await title()) === 'Orders')
  await app.mustFind('[data-testid="orders-chart"]')

  await app.click('[data-testid="orders-tools-toggle"]')
  await app.type('[data-testid="new-goods-sku"]', SKU)
  await app.type('[data-testid="new-goods-name"]', 'Audit tea')
  await app.type('[data-testid="new-goods-price"]', '8.00')
  await app.type('[data-testid="new-goods-stock"]', '5')
  await app.click('[data-testid="new-goods-submit"]')
  const goodsRow = `[data-testid="goods-row"][data-sku="${SKU}"]`
  await waitFor('the new goods listed', () => app.find(goodsRow))

  await app.select('[data-testid="new-order-goods"]', await app.attribute(goodsRow, 'data-goods-id'))
  await app.type('[data-testid="new-order-quantity"]', '2')
  await app.type('[data-testid="new-order-user"]', '10086')
  await app.click('[data-testid="new-order-submit"]')
  ORDER_NO = await waitFor('the order placed', () => app.attribute('[data-testid="new-order-done"]', 'data-order-no'))

  // The chart of the last hour counts it (pushed by the order's event, not polled).
  await waitFor('the chart counting the order placed', async () => {
    const totals = (await app.attribute('[data-testid="orders-chart"]', 'data-totals')) ?? ''
    return Number(totals.split(',')[0]) >= 1
  })
  assert.equal(await app.attribute('[data-testid="orders-chart"]', 'data-points'), '60')
  await app.execute('document.querySelector(\'[data-testid="orders-chart"]\').scrollIntoView()')
  await app.screenshot('orders-activity-chart')
})

test('the audit log filtered by action family and by search shows only the matching sentences', async () => {
  assert.ok(ORDER_NO, 'the order was placed')
  await app.click('[data-testid="nav-audit"]')
  await waitFor('the Audit page', async () => (await title()) === 'Audit')
  const all = await rowsUntil('both actions in the log', (shown) =>
    ['goods.create', 'order.place'].every((a) => shown.some((r) => r.action === a)),
  )
  assert.ok(all.some((r) => r.action.startsWith('staff.')), 'the sign-in is in the log too')

  await app.select('[data-testid="audit-filter-family"]', 'goods')
  let shown = await rowsUntil('only goods actions', (s) => s.every((r) => r.action.startsWith('goods.')))
  assert.deepEqual(shown.map((r) => r.text), [`Added the goods ${SKU} with 5 in stock.`])

  await app.select('[data-testid="audit-filter-family"]', 'order')
  shown = await rowsUntil('only order actions', (s) => s.every((r) => r.action.startsWith('order.')))
  assert.deepEqual(shown.map((r) => r.text), [`Placed the order ${ORDER_NO} for ¥16.00.`])

  await clearFilters()
  await app.type('[data-testid="audit-search"]', SKU)
  shown = await rowsUntil(`only the entries naming ${SKU}`, (s) => s.length === 1)
  assert.deepEqual(shown, [{ action: 'goods.create', text: `Added the goods ${SKU} with 5 in stock.` }])

  await app.type('[data-testid="audit-search"]', ORDER_NO)
  shown = await rowsUntil(`only the entries naming ${ORDER_NO}`, (s) => s.every((r) => r.action === 'order.place'))
  assert.equal(shown.length, 1)
  await app.screenshot('audit-filtered')
  await clearFilters()
})

test('a sortable header sorts the whole log on the core, both ways', async () => {
  await rowsUntil('the whole log again', (s) => s.some((r) => r.action === 'goods.create') && s.some((r) => r.action === 'order.place'))
  // The core's order on SQLite: by code unit (BINARY), as `<` compares.
  const byCode = (a, b) => (a < b ? -1 : a > b ? 1 : 0)
  const sorted = (list, desc) => [...list].sort((a, b) => (desc ? byCode(b, a) : byCode(a, b)))
  await app.click('[data-testid="audit-table"] [data-sort-key="action"]')
  let shown = await rowsUntil('the log by action, A to Z', (s) => {
    const actions = s.map((r) => r.action)
    return actions.join() === sorted(actions, false).join() && actions[0] !== actions[actions.length - 1]
  })
  assert.equal(await app.attribute('[data-testid="audit-table"] th[aria-sort="ascending"] [data-sort-key]', 'data-sort-key'), 'action')
  await app.click('[data-testid="audit-table"] [data-sort-key="action"]')
  shown = await rowsUntil('the log by action, Z to A', (s) => {
    const actions = s.map((r) => r.action)
    return actions.join() === sorted(actions, true).join() && actions[0] !== actions[actions.length - 1]
  })
  assert.ok(shown.length >= 3)
})
