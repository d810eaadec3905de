// The desktop in remote mode (OPSDECK_SERVER_URL) against a separate `opsdeckd` over HTTPS (a
// certificate of the throwaway CA the test command makes, trusted through OPSDECK_SERVER_CA) on
// the test Redis and MariaDB (daemon.mjs): sign in through the sign-in window (the server's start
// URL → the server's fake Weibo → the server → the desktop), every page shows the server's data, a
// restart keeps the session, one state-changing action per role (a viewer refused, an operator
// allowed, a role lowered under a running console refused with the catalogue's sentence), the
// daemon stopped and started under the running desktop (the status bar says reconnecting, then
// connected, and the pages show what changed meanwhile), and, read from /proc the whole time, no
// TCP connection from the desktop's processes to Redis or the database.
//
// The tests run in order on one desktop data dir and one daemon: each builds on the last.

import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, test } from 'node:test'

import { Daemon } from './daemon.mjs'
import { Console, DESKTOP_BIN, removeDir, scratchDir, signIn, waitFor } from './harness.mjs'
import { describe, executable, commandName, processTree, tcpConnections } from './procnet.mjs'

/** The fake Weibo's first user (FakeOAuthConfig::sandbox), made admin by `bootstrap_admin`. */
const WEIBO_ADMIN = '5678001'
const RUN = `${process.pid}-${Date.now().toString(36)}`
const JOB = `e2e-remote-${RUN}`
const SKU = `E2E-REMOTE-${RUN}`.toUpperCase()
const OCR_URL = `https://img.test/e2e-remote-${RUN}.jpg`
/** The server's zone, which the desktop's own default (Asia/Shanghai) is not: the Settings page shows whose it is. */
const SERVER_ZONE = 'Europe/London'

/** The desktop app in remote mode on a data dir kept across restarts (unlike openConsole's). */
class RemoteDesktop {
  constructor(daemon) {
    this.daemon = daemon
    this.dir = scratchDir('remote-desktop')
    this.dataDir = path.join(this.dir, 'data')
    this.configFile = path.join(this.dir, 'config.toml')
    writeFileSync(this.configFile, '') // its own (empty) file: the account's config never leaks in
    this.env = {
      OPSDECK_DATA_DIR: this.dataDir,
      OPSDECK_SERVER_URL: daemon.url,
      OPSDECK_SERVER_CA: daemon.ca.ca,
      OPSDECK_LOG: 'warn',
      // Left in by mistake, as a desktop once set up for embedded mode would have them: remote
      // mode must ignore them. Were a core started anyway, it would connect to these, and the
      // /proc watch below would see it.
      OPSDECK_DATABASE_URL: daemon.databaseUrl,
      OPSDECK_REDIS_URL: daemon.services.redisUrl,
    }
    for (const [variable, sub] of [['XDG_CONFIG_HOME', 'xdg-config'], ['XDG_DATA_HOME', 'xdg-data'], ['XDG_CACHE_HOME', 'xdg-cache']]) {
      this.env[variable] = path.join(this.dir, sub)
      mkdirSync(this.env[variable], { recursive: true })
    }
    this.app = null
  }

  /** Where the session is kept where there is no keychain (CI under Xvfb has no Secret Service). */
  get sessionFile() {
    return path.join(this.dataDir, 'server-session.json')
  }

  async start() {
    this.app = await Console.open({ env: this.env, args: ['--config', this.configFile] })
    return this.app
  }

  async stop() {
    const app = this.app
    this.app = null
    await app?.close()
  }

  async restart() {
    await this.stop()
    return this.start()
  }

  /** Signs the next start in as the holder of `token` (a token from `opsdeckd staff token`). */
  keepSession(token) {
    mkdirSync(this.dataDir, { recursive: true })
    writeFileSync(this.sessionFile, JSON.stringify({ server_url: this.daemon.url, token }), { mode: 0o600 })
  }

  /** The desktop's processes: the app WebKitWebDriver started, and its children (WebKit's). */
  processes() {
    const driver = this.app?.driver
    if (!driver || driver.exitCode !== null) return []
    const binary = realpathSync(DESKTOP_BIN)
    const app = processTree(driver.pid).find((pid) => {
      const exe = executable(pid)
      return exe === binary || exe === `${binary} (deleted)` || commandName(pid) === 'opsdeck'
    })
    return app === undefined ? [] : processTree(app)
  }

  async close() {
    await this.stop()
    removeDir(this.dir)
  }
}

/**
 * Samples the desktop's TCP connections from /proc every 250 ms for the whole run: every
 * connection to the Redis or database port is kept, and the connections to the daemon counted
 * (so the check is known to see the desktop's traffic at all).
 */
class ConnectionWatch {
  constructor(desktop, { redisPort, mysqlPort, daemonPort }) {
    this.desktop = desktop
    this.forbidden = new Map([[redisPort, 'Redis'], [mysqlPort, 'MariaDB']])
    this.daemonPort = daemonPort
    this.samples = 0
    this.violations = []
    this.toDaemon = 0
    this.timer = setInterval(() => this.sample(), 250)
  }

  /** One look: returns the connections seen now. */
  sample() {
    const pids = this.desktop.processes()
    if (!pids.length) return []
    const seen = tcpConnections(pids)
    this.samples += 1
    for (const c of seen) {
      if (this.forbidden.has(c.remote.port)) this.violations.push(`${this.forbidden.get(c.remote.port)}: ${describe(c)}`)
      if (c.remote.port === this.daemonPort && c.state === 'ESTABLISHED') this.toDaemon += 1
    }
    return seen
  }

  stop() {
    clearInterval(this.timer)
  }
}

let daemon
let desktop
let watch
/** An operator's session for the shop's scripts: the data every page should show is made through the API. */
let seedToken
const seed = {}
/** The staff member signed in through the sign-in window (`auth_session`). */
let admin

const app = () => desktop.app
const title = () => app().text('[data-testid="page-title"]')
const connectionState = () => app().attribute('[data-testid="connection-state"]', 'data-state')
const jobRow = (name) => `[data-testid="job-row"][data-job-name="${name}"]`

/** Runs a test's body; on failure keeps a screenshot of the window in the artifacts. */
function shot(name, body) {
  return async () => {
    try {
      await body()
    } catch (e) {
      await app()?.screenshot(`remote-failed-${name}`).catch(() => {})
      throw e
    }
  }
}

async function showPage(nav, heading) {
  await app().click(`[data-testid="${nav}"]`)
  await waitFor(`the ${heading} page after clicking ${nav}`, async () => (await title()) === heading)
}

async function waitForConnection(state, timeoutMs) {
  await waitFor(`the status bar's connection state to be ${state}`, async () => (await connectionState()) === state, { timeoutMs, intervalMs: 200 })
}

/** The signed-in console (no sign-in screen) with the staff card naming `name` and `role`. */
async function waitForSignedInAs(name, role) {
  await waitFor(`the console signed in as ${name} (${role}), without the sign-in screen`, async () => {
    if (await app().find('[data-testid="signin-screen"]')) return false
    return (await app().text('[data-testid="staff-name"]')) === name && (await app().attribute('[data-testid="staff-role"]', 'data-role')) === role
  }, { timeoutMs: 20_000 })
}

/** The seeded job as the server has it now. */
const serverJob = () => daemon.api('GET', `/api/v1/jobs/${seed.job.id}`, { token: seedToken })

before(async () => {
  daemon = await Daemon.start('remote', {
    // A shared database: the first console sign-in is admin only through bootstrap_admin.
    OPSDECK_BOOTSTRAP_ADMIN: `weibo:${WEIBO_ADMIN}`,
    OPSDECK_TIMEZONE: SERVER_ZONE,
    OPSDECK_SANDBOX_ORDERS_PER_MINUTE: '12',
    OPSDECK_SANDBOX_OCR_PER_MINUTE: '6',
    // The seeded order stays pending through the run.
    OPSDECK_ORDER_EXPIRY_SECONDS: '3600',
    OPSDECK_HEALTH_INTERVAL_MS: '500',
    OPSDECK_EVENTS_HEARTBEAT_MS: '1000',
  })
  // What every page should show, made on the server through its API as the shop's scripts do.
  seedToken = await daemon.staffToken('e2e-seed', 'operator')
  const token = seedToken
  seed.staff = await daemon.api('GET', '/api/v1/session', { token })
  seed.job = await daemon.api('POST', '/api/v1/jobs', {
    token,
    body: { name: JOB, kind: 'noop', trigger: { type: 'interval', every_seconds: 3600 }, timezone: SERVER_ZONE, args: {} },
  })
  seed.goods = await daemon.api('POST', '/api/v1/goods', { token, body: { sku: SKU, name: 'E2E remote mug', price_fen: 1250, stock: 10 } })
  seed.order = await daemon.api('POST', '/api/v1/orders', {
    token,
    body: { user_id: 10086, kind: 'goods', items: [{ goods_id: seed.goods.id, quantity: 2 }] },
  })
  seed.ocr = await daemon.api('POST', '/api/v1/ocr-requests', { token, body: { url: OCR_URL, side: 'front' } })

  desktop = new RemoteDesktop(daemon)
  const { redisPort, mysqlPort } = daemon.services
  watch = new ConnectionWatch(desktop, { redisPort, mysqlPort, daemonPort: daemon.port })
})

after(async () => {
  watch?.stop()
  await desktop?.close()
  await daemon?.close()
})

test('sign in through the server: the sign-in window goes to the server, its fake Weibo and back, and the console opens', shot('sign-in', async () => {
  await desktop.start()
  await app().mustFind('[data-testid="signin-screen"]')
  await waitForConnection('connected', 20_000)
  assert.equal(await app().attribute('[data-testid="connection-state"]', 'data-mode'), 'remote')
  // The sign-in screen names the server, fixed by the configuration (no chooser offered).
  const fixed = await app().mustFind('[data-testid="server-fixed"]')
  const named = await app().elementText(fixed)
  assert.ok(named.includes(daemon.url), `the sign-in screen names ${daemon.url}: ${named}`)
  assert.equal(await app().find('[data-testid="server-url"]'), null, 'no server to type in')
  const status = await app().invoke('connection_status')
  assert.ok(status.ok, `connection_status: ${JSON.stringify(status)}`)
  assert.equal(status.value.mode, 'remote')
  assert.equal(status.value.server_url?.replace(/\/+$/, ''), daemon.url)
  assert.equal(status.value.fixed_by_config, true, 'the server comes from OPSDECK_SERVER_URL')

  const staff = await signIn(app(), { provider: 'weibo', user: WEIBO_ADMIN })
  assert.equal(staff.provider, 'weibo')
  assert.equal(staff.role, 'admin', 'bootstrap_admin names this sign-in the first admin')
  await waitForSignedInAs(staff.name, 'admin')
  admin = staff
  await app().screenshot('remote-signed-in')
}))

test('every page shows the server\'s data', shot('pages', async () => {
  if (!admin) {
    // The sign-in window failed (reported above): an admin's session from the server's command
    // line instead, so the pages are still checked.
    desktop.keepSession(await daemon.staffToken('e2e-admin', 'admin'))
    await desktop.restart()
    const staff = await desktop.app.invoke('auth_session')
    assert.ok(staff.ok && staff.value, `signed in from the kept session: ${JSON.stringify(staff)}`)
    admin = staff.value
  }
  const pages = [
    ['nav-overview', 'Overview', async () => {
      await app().mustFind('[data-testid="overview-sandbox"]')
      const pending = await app().text('[data-testid="tile-orders-pending"] [data-testid="tile-value"]')
      return Number((pending ?? '').replace(/[^0-9]/g, '')) >= 1
    }],
    ['nav-jobs', 'Jobs', () => app().find(jobRow(JOB))],
    ['nav-ocr', 'OCR queue', () => app().find(`[data-testid="ocr-row-url"][title="${OCR_URL}"]`)],
    ['nav-orders', 'Orders', async () => (await app().text(`[data-testid="order-row"][data-order-no="${seed.order.order_no}"] [data-testid="order-amount"]`)) === '¥25.00'],
    ['nav-accounts', 'Accounts', async () => {
      if (!(await app().find(`[data-testid="user-row-${seed.staff.user_id}"]`))) return false
      // The server's staff sessions, for an admin: this window's own (current) and the seed's.
      const mine = await app().find(`[data-testid="session-row"][data-current="true"][data-user-id="${admin.user_id}"]`)
      return mine !== null && (await app().find(`[data-testid="session-row"][data-user-id="${seed.staff.user_id}"]`)) !== null
    }],
    ['nav-audit', 'Audit', async () => {
      for (const row of await app().findAll('[data-testid="audit-row"]')) {
        if ((await app().elementText(row)).includes('e2e-seed')) return true
      }
      return false
    }],
    ['nav-settings', 'Settings', async () => (await app().text('[data-testid="settings-timezone"]')) === SERVER_ZONE],
  ]
  for (const [nav, heading, shows] of pages) {
    await showPage(nav, heading)
    await waitFor(`the ${heading} page showing the server's data`, shows, { timeoutMs: 20_000, intervalMs: 250 })
    await app().screenshot(`remote-page-${nav.slice(4)}`)
  }
  assert.notEqual(await app().find('[data-testid="app-sandbox"]'), null, 'the server says it is in sandbox mode')
}))

test('the desktop holds no TCP connection to Redis or the database, only to the server', shot('no-services', async () => {
  const pids = desktop.processes()
  assert.ok(pids.length > 0, 'the desktop process is found under WebKitWebDriver')
  const { redisPort, mysqlPort } = daemon.services
  // The page tour above ran under the watch; look once more now, and the same once the live stream is up.
  const seen = await waitFor('the desktop\'s connection to the server in /proc', () => {
    const now = watch.sample()
    return now.some((c) => c.remote.port === daemon.port && c.state === 'ESTABLISHED') ? now : null
  })
  const bad = seen.filter((c) => c.remote.port === redisPort || c.remote.port === mysqlPort)
  assert.deepEqual(bad.map(describe), [], 'no connection to Redis or MariaDB now')
  assert.deepEqual(watch.violations, [], 'no connection to Redis or MariaDB since the desktop started')
  assert.ok(watch.samples > 10, `the watch sampled the desktop (${watch.samples} samples)`)
}))

test('a restart keeps the session: no sign-in screen', shot('restart', async () => {
  assert.equal(admin?.provider, 'weibo', 'this needs the session the sign-in window made (the first test)')
  const name = await app().text('[data-testid="staff-name"]')
  await desktop.restart()
  await waitForSignedInAs(name, 'admin')
  const held = statSync(desktop.sessionFile, { throwIfNoEntry: false })
  if (held) {
    // No keychain here (no Secret Service under Xvfb): the 0600 file, naming the server.
    assert.equal(held.mode & 0o777, 0o600, 'the session file is readable by its owner only')
    const kept = JSON.parse(readFileSync(desktop.sessionFile, 'utf8'))
    assert.equal(kept.server_url?.replace(/\/+$/, ''), daemon.url)
    assert.equal(typeof kept.token, 'string')
  }
  await waitForConnection('connected', 20_000)
}))

test('a viewer: pausing a job is refused by the server and nothing changes', shot('viewer', async () => {
  desktop.keepSession(await daemon.staffToken('e2e-viewer', 'viewer'))
  await desktop.restart()
  await waitForSignedInAs('e2e-viewer', 'viewer')
  await showPage('nav-jobs', 'Jobs')
  await app().mustFind(jobRow(JOB))
  const pause = `${jobRow(JOB)} [data-testid="job-pause"]`
  assert.equal(await app().enabled(pause), false, 'Pause is disabled for a viewer')
  assert.equal(await app().attribute(pause, 'title'), 'Your role (viewer) cannot pause jobs')
  // What the button would send, sent anyway: the server refuses it.
  const refused = await app().invoke('job_pause', { id: seed.job.id })
  assert.equal(refused.ok, false, `job_pause as a viewer: ${JSON.stringify(refused)}`)
  assert.equal(refused.error.code, 'forbidden')
  assert.equal(refused.error.params?.role, 'viewer')
  // The core's word for the action, which the catalogues translate ("pause jobs"), as embedded.
  assert.equal(refused.error.params?.action, 'pause_jobs')
  assert.equal((await serverJob()).paused, false, 'the job is not paused on the server')
  assert.equal(await app().text(`${jobRow(JOB)} [data-testid="job-paused"]`), 'active')
}))

test('an operator: the same action succeeds', shot('operator', async () => {
  desktop.keepSession(await daemon.staffToken('e2e-operator', 'operator'))
  await desktop.restart()
  await waitForSignedInAs('e2e-operator', 'operator')
  await showPage('nav-jobs', 'Jobs')
  await app().click(`${jobRow(JOB)} [data-testid="job-pause"]`)
  await app().click('[data-testid="confirm-dialog"] [data-testid="confirm-ok"]')
  await waitFor(`${JOB} shown paused`, async () => (await app().text(`${jobRow(JOB)} [data-testid="job-paused"]`)) === 'paused')
  const failed = '[data-testid="notice"][data-kind="error"]'
  assert.equal(await app().find(failed), null, `no error: ${await app().text(failed)}`)
  assert.equal((await serverJob()).paused, true, 'the job is paused on the server')
}))

test('a role lowered on the server under a running console: the next action is refused with the catalogue\'s sentence', shot('demoted', async () => {
  await app().mustFind(`${jobRow(JOB)} [data-testid="job-resume"]`)
  assert.equal(await app().enabled(`${jobRow(JOB)} [data-testid="job-resume"]`), true, 'Resume is offered to the operator')
  await daemon.staffToken('e2e-operator', 'viewer') // the same member, now a viewer; their session goes on
  await app().click(`${jobRow(JOB)} [data-testid="job-resume"]`)
  // A refused action is an error notice (stores/notices.ts), in the catalogue's sentence.
  const refusal = '[data-testid="notice"][data-kind="error"] [data-testid="notice-text"]'
  const message = await waitFor('the refusal in an error notice', () => app().text(refusal))
  assert.equal(message, 'Your role (viewer) cannot resume jobs.')
  assert.equal((await serverJob()).paused, true, 'the job is still paused on the server')
  // The refusal makes the console ask who is signed in: the card and the buttons follow.
  await waitForSignedInAs('e2e-operator', 'viewer')
  await waitFor('Resume disabled for the viewer', async () => (await app().enabled(`${jobRow(JOB)} [data-testid="job-resume"]`)) === false)
  await app().screenshot('remote-demoted')
}))

test('the daemon restarted under the desktop: reconnecting, then connected, and the pages show what changed meanwhile', shot('daemon-restart', async () => {
  await showPage('nav-accounts', 'Accounts')
  await app().mustFind(`[data-testid="user-row-${seed.staff.user_id}"]`)
  await waitForConnection('connected', 10_000)

  await daemon.stop()
  await waitForConnection('reconnecting', 15_000)
  await app().screenshot('remote-reconnecting')
  // Changed while the server is down, through its command line on the database: no event can
  // tell the desktop; only the resynchronisation after the reconnect shows it.
  await daemon.staffToken('e2e-while-down', 'viewer')
  const list = JSON.parse(await daemon.cli(['staff', 'list', '--json']))
  const newcomer = list.find((m) => m.username === 'e2e-while-down')
  assert.ok(newcomer, `staff list names e2e-while-down: ${JSON.stringify(list)}`)

  await daemon.restart()
  await waitForConnection('connected', 60_000)
  await waitFor('the Accounts page showing the member added while the server was down', () => app().find(`[data-testid="user-row-${newcomer.user_id}"]`), { timeoutMs: 20_000 })

  // And the live stream works again: a job added now appears on the open Jobs page.
  await showPage('nav-jobs', 'Jobs')
  const fresh = `${JOB}-after-restart`
  await daemon.api('POST', '/api/v1/jobs', {
    token: seedToken,
    body: { name: fresh, kind: 'noop', trigger: { type: 'interval', every_seconds: 3600 }, timezone: SERVER_ZONE, args: {} },
  })
  await waitFor(`${fresh} pushed to the open Jobs page`, () => app().find(jobRow(fresh)), { timeoutMs: 20_000 })
  await app().screenshot('remote-reconnected')
}))

test('through the whole run, the desktop never connected to Redis or the database', (t) => {
  watch.sample()
  t.diagnostic(`${watch.samples} samples of the desktop's sockets; ${watch.toDaemon} sightings of its connections to the server`)
  assert.deepEqual(watch.violations, [], 'connections from the desktop to Redis or MariaDB')
  assert.ok(watch.toDaemon > 0, 'the watch saw the desktop\'s connections to the server (the check is not blind)')
})
