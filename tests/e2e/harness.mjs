// End-to-end harness: drives the REAL desktop window through WebKitWebDriver (directly, without
// tauri-driver; see ../shared/specs/desktop.md) and starts the services a test owns.
// No dependencies beyond Node's standard library.

import { spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const DESKTOP_BIN = process.env.OPSDECK_DESKTOP_BIN ?? path.join(ROOT, 'target/debug/opsdeck')
export const ARTIFACTS = process.env.OPSDECK_TEST_ARTIFACTS ?? path.join(ROOT, 'tests/e2e/artifacts')
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf'

/** A TCP port nobody listens on right now. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/**
 * Polls `probe` until it returns a truthy value, at most `timeoutMs`; fails naming `what` and the
 * last value or error seen.
 */
export async function waitFor(what, probe, { timeoutMs = 10_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    try {
      const value = await probe()
      if (value) return value
      last = value
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`)
    }
    await delay(intervalMs)
  }
}

/** A scratch directory removed by `cleanup()`. */
export function scratchDir(stem) {
  return mkdtempSync(path.join(tmpdir(), `opsdeck-e2e-${stem}-`))
}

/** A Redis server this test owns (so it may stop and restart it). */
export class OwnRedis {
  static async start(dir) {
    const redis = new OwnRedis(await freePort(), dir)
    await redis.restart()
    return redis
  }

  constructor(port, dir) {
    this.port = port
    this.dir = dir
    this.proc = null
  }

  get url() {
    return `redis://127.0.0.1:${this.port}/0`
  }

  async restart() {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    await waitFor(`Redis on port ${this.port}`, () => canConnect(this.port))
  }

  async stop() {
    if (!this.proc) return
    const proc = this.proc
    this.proc = null
    const exited = new Promise((resolve) => proc.once('exit', resolve))
    proc.kill('SIGKILL')
    await exited
  }
}

async function canConnect(port) {
  const { connect } = await import('node:net')
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** WebKitWebDriver plus one session on the desktop app, with `env` for the app. */
export class Console {
  static async open({ env, args = [] }) {
    const port = await freePort()
    const driver = spawn('WebKitWebDriver', [`--port=${port}`], {
      env: { ...process.env, TAURI_WEBVIEW_AUTOMATION: 'true', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
      detached: true, // its own process group, so the app it starts is stopped with it
    })
    const base = `http://127.0.0.1:${port}`
    const console_ = new Console(base, driver)
    try {
      await waitFor('WebKitWebDriver to answer', async () => (await fetch(`${base}/status`)).ok)
      const created = await console_.call('POST', '/session', {
        capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary: DESKTOP_BIN, args } } },
      })
      console_.sessionId = created.sessionId
    } catch (e) {
      await console_.close()
      throw e
    }
    return console_
  }

  constructor(base, driver) {
    this.base = base
    this.driver = driver
    this.sessionId = null
  }

  async call(method, route, body) {
    const response = await fetch(`${this.base}${route}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    })
    const json = await response.json()
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${JSON.stringify(json.value)}`)
    return json.value
  }

  session(route) {
    return `/session/${this.sessionId}${route}`
  }

  /** The first element matching `css`, or null. */
  async find(css) {
    const found = await this.call('POST', this.session('/elements'), { using: 'css selector', value: css })
    return found.length ? found[0][ELEMENT] : null
  }

  async mustFind(css) {
    return waitFor(`an element matching ${css}`, () => this.find(css))
  }

  async text(css) {
    const id = await this.find(css)
    return id ? this.call('GET', this.session(`/element/${id}/text`)) : null
  }

  async attribute(css, name) {
    const id = await this.find(css)
    return id ? this.call('GET', this.session(`/element/${id}/attribute/${name}`)) : null
  }

  /**
   * WebKitWebDriver scrolls only the window, not the console's scrolling content pane: an
   * element below the fold or half under the status bar is "not interactable" until it is
   * brought into view.
   */
  async scrollIntoView(id) {
    await this.call('POST', this.session('/execute/sync'), {
      script: 'arguments[0].scrollIntoView({ block: "center", inline: "nearest" })',
      args: [{ [ELEMENT]: id }],
    })
  }

  async click(css) {
    const id = await this.mustFind(css)
    await this.scrollIntoView(id)
    await this.call('POST', this.session(`/element/${id}/click`), {})
  }

  /** Replaces the text of an input or textarea. */
  async type(css, text) {
    const id = await this.mustFind(css)
    await this.scrollIntoView(id)
    await this.call('POST', this.session(`/element/${id}/clear`), {})
    await this.call('POST', this.session(`/element/${id}/value`), { text: String(text) })
  }

  /** Chooses the option with `value` in the select matching `css`. */
  async select(css, value) {
    await this.click(`${css} option[value="${value}"]`)
  }

  /** Every element matching `css` (element ids). */
  async findAll(css) {
    const found = await this.call('POST', this.session('/elements'), { using: 'css selector', value: css })
    return found.map((f) => f[ELEMENT])
  }

  async elementAttribute(id, name) {
    return this.call('GET', this.session(`/element/${id}/attribute/${name}`))
  }

  async elementText(id) {
    return this.call('GET', this.session(`/element/${id}/text`))
  }

  /** Saves a PNG of the window under tests/e2e/artifacts/ and returns its path. */
  async screenshot(name) {
    const base64 = await this.call('GET', this.session('/screenshot'))
    mkdirSync(ARTIFACTS, { recursive: true })
    const file = path.join(ARTIFACTS, `${name}.png`)
    writeFileSync(file, Buffer.from(base64, 'base64'))
    return file
  }

  async close() {
    if (this.sessionId) {
      await this.call('DELETE', this.session('')).catch(() => {})
      this.sessionId = null
    }
    if (this.driver.exitCode === null) {
      const exited = new Promise((resolve) => this.driver.once('exit', resolve))
      try { process.kill(-this.driver.pid, 'SIGTERM') } catch { /* already gone */ }
      await exited
    }
  }
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true })
}

/**
 * The desktop app on a scratch data dir and a Redis server of the test's own, with `env` for
 * the app. `close()` ends the session and removes what it made.
 */
export async function openConsole(name, env = {}) {
  const dir = scratchDir(name)
  const redis = await OwnRedis.start(dir)
  let app
  try {
    app = await Console.open({
      env: { OPSDECK_DATA_DIR: dir, OPSDECK_REDIS_URL: redis.url, OPSDECK_REDIS_PREFIX: `e2e-${name}`, ...env },
    })
  } catch (e) {
    await redis.stop()
    removeDir(dir)
    throw e
  }
  return {
    app,
    redis,
    async close() {
      await app.close()
      await redis.stop()
      removeDir(dir)
    },
  }
}
