// The console frame in the real desktop window: it opens, navigation works, and the status bar
// shows the database and Redis live, including Redis going away and coming back. Signed in
// first (the built-in fake Weibo's first user, the first sign-in: admin).

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, test } from 'node:test'

import { openConsole, signIn, waitFor } from './harness.mjs'
import { commandName, descendants } from './procnet.mjs'

const PAGES = [
  ['nav-overview', 'Overview'],
  ['nav-jobs', 'Jobs'],
  ['nav-ocr', 'OCR queue'],
  ['nav-orders', 'Orders'],
  ['nav-accounts', 'Accounts'],
  ['nav-audit', 'Audit'],
]

let opened
let app
let redis

before(async () => {
  opened = await openConsole('console', { OPSDECK_HEALTH_INTERVAL_MS: '500', OPSDECK_HEALTH_TIMEOUT_MS: '500' })
  ;({ app, redis } = opened)
  await signIn(app) // the console shows only the sign-in screen until a staff member signs in
})

after(async () => {
  await opened?.close()
})

const status = (which) => app.attribute(`[data-testid="status-${which}"]`, 'data-status')
const title = () => app.text('[data-testid="page-title"]')

test('the console opens on the overview with the database and Redis healthy', async () => {
  await waitFor('the Overview page', async () => (await title()) === 'Overview')
  await waitFor('the database healthy in the status bar', async () => (await status('database')) === 'ok')
  await waitFor('Redis healthy in the status bar', async () => (await status('redis')) === 'ok')
  const bar = await app.text('[data-testid="status-database"]')
  assert.match(bar, /Database/)
  const shot = await app.screenshot('console-overview')
  assert.ok(shot.endsWith('.png'))
})

test('navigation reaches every page', async () => {
  for (const [link, heading] of PAGES) {
    await app.click(`[data-testid="${link}"]`)
    await waitFor(`the ${heading} page after clicking ${link}`, async () => (await title()) === heading)
  }
  await app.click('[data-testid="nav-overview"]')
  await waitFor('back on the Overview page', async () => (await title()) === 'Overview')
})

test('the status bar shows Redis unreachable within seconds of it stopping, and healthy when it returns', async () => {
  await waitFor('Redis healthy first', async () => (await status('redis')) === 'ok')
  await redis.stop()
  await waitFor('Redis shown unreachable', async () => (await status('redis')) === 'unreachable', { timeoutMs: 5_000 })
  const reason = await app.text('[data-testid="status-redis"] [data-testid="status-reason"]')
  assert.ok(reason && reason.trim().length > 0, 'the reason is shown')
  assert.equal(await status('database'), 'ok', 'the database is unaffected')
  await app.screenshot('console-redis-unreachable')

  await redis.restart()
  await waitFor('Redis shown healthy again', async () => (await status('redis')) === 'ok', { timeoutMs: 10_000 })
})

// Issue 19, item 6 (src-tauri/src/webview.rs, NO_GL_ENV): the page is drawn on the CPU, so the
// app process loads no GL driver (Mesa's and its libLLVM were about 20 MiB of it), and the page
// is still painted.
test('the app process loads no GL driver, and the page is painted', async () => {
  await waitFor('the Overview page', async () => (await title()) === 'Overview')
  const pid = descendants(app.driver.pid).find((p) => commandName(p) === 'opsdeck')
  assert.ok(pid, `no opsdeck process under WebKitWebDriver (pid ${app.driver.pid})`)
  const gl = readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter((line) => /libLLVM|swrast_dri|libGLX_mesa|libEGL_mesa/.test(line))
    .map((line) => line.slice(line.lastIndexOf(' ') + 1))
  assert.deepEqual([...new Set(gl)], [], 'GL libraries in the app process')
  // WebDriver's screenshot is the web process's own drawing of the page: many colours, not a
  // blank or single-colour frame.
  const file = await app.screenshot('console/painted')
  const png = readFileSync(file)
  assert.ok(png.length > 20_000, `the page's screenshot is ${png.length} bytes: nothing drawn?`)
})
