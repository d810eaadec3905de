// End-to-end harness: drives the REAL desktop window through WebKitWebDriver (directly: on Linux
// tauri-driver only translates capabilities, and through it about one run in four failed with a
// connection reset) and starts the services a test owns.
// No dependencies beyond Node's standard library.

import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { promisify } from 'node:util'
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
      console_.mainHandle = await console_.call('GET', console_.session('/window'))
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
    /** The console's own window (the WebDriver handle of the `main` Tauri window). */
    this.mainHandle = null
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

  /**
   * Clicks the element matching `css`. A page that is re-rendering (a live reload replaced the
   * element, or something is still over it) gets up to 5 s: the click is retried, and the last
   * refusal is reported.
   */
  async click(css) {
    await waitFor(
      `${css} to take a click`,
      async () => {
        const id = await this.mustFind(css)
        await this.scrollIntoView(id)
        await this.call('POST', this.session(`/element/${id}/click`), {})
        return true
      },
      { timeoutMs: 5_000 },
    )
  }

  /**
   * Replaces the text of an input or textarea, and checks that it holds exactly `text`.
   *
   * WebDriver's clear fires no `input` event, so Vue's v-model still holds the old value; if a
   * pushed update re-renders the form between the clear and the keys, Vue writes the old value
   * back and the keys are appended to it (seen in CI: "5000" then "3" became "50003"). Typing
   * is therefore checked and, in that case, done again: the second time the old text came from
   * typed keys, so v-model follows the clear's effect through the next `input` event.
   */
  async type(css, text) {
    const want = String(text)
    await waitFor(
      `${css} to hold ${JSON.stringify(want)}`,
      async () => {
        const id = await this.mustFind(css)
        await this.scrollIntoView(id)
        await this.call('POST', this.session(`/element/${id}/clear`), {})
        await this.call('POST', this.session(`/element/${id}/value`), { text: want })
        return (await this.call('GET', this.session(`/element/${id}/property/value`))) === want
      },
      { timeoutMs: 5_000 },
    )
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

  /** True when the element matching `css` is enabled (null when there is none). */
  async enabled(css) {
    const id = await this.find(css)
    return id ? this.call('GET', this.session(`/element/${id}/enabled`)) : null
  }

  // ---- windows ----
  // WebKitWebDriver lists every Tauri webview window of the app as a window handle: the sign-in
  // window (Tauri label `oauth`) appears in GET /window/handles once it opens and leaves the list
  // once it closes. Commands go to the current handle; switch with POST /window.

  async windowHandles() {
    return this.call('GET', this.session('/window/handles'))
  }

  async switchToWindow(handle) {
    await this.call('POST', this.session('/window'), { handle })
  }

  /** Back to the console's own window. */
  async switchToMain() {
    await this.switchToWindow(this.mainHandle)
  }

  /**
   * Clicks `css` in the console (a control that opens the sign-in window), waits for the new
   * window handle and switches to it; returns the handle. The caller switches back.
   */
  async openSignInWindow(css) {
    const before = new Set(await this.windowHandles())
    await this.click(css)
    const handle = await waitFor(`the sign-in window to open after clicking ${css}`, async () =>
      (await this.windowHandles()).find((h) => !before.has(h)),
    )
    await this.switchToWindow(handle)
    return handle
  }

  /** Waits until the window `handle` has closed. */
  async waitForWindowClosed(handle, what = 'the sign-in window to close') {
    await waitFor(what, async () => !(await this.windowHandles()).includes(handle))
  }

  /** Runs `script` (a function body; `arguments` as in WebDriver) in the current window. */
  async execute(script, args = []) {
    return this.call('POST', this.session('/execute/sync'), { script, args })
  }

  /**
   * Calls a Tauri command from the console's window, as the UI does; resolves to
   * `{ ok: true, value }` or `{ ok: false, error }` (the command's `{code, message}`).
   */
  async invoke(command, args = {}) {
    return this.call('POST', this.session('/execute/async'), {
      script: `const done = arguments[arguments.length - 1];
        window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1]).then(
          (value) => done({ ok: true, value: value === undefined ? null : value }),
          (error) => done({ ok: false, error }),
        );`,
      args: [command, args],
    })
  }

  /**
   * Resizes the current window to `width` × `height` (WebDriver's window rect) and waits until
   * the page's inner size is exactly that (Xvfb has no window manager, so no frame is taken
   * off); fails naming the size the page has instead.
   */
  async setWindowSize(width, height) {
    await this.call('POST', this.session('/window/rect'), { width, height })
    await waitFor(`the window's inner size to become ${width}×${height}`, async () => {
      const [w, h] = await this.execute('return [innerWidth, innerHeight]')
      if (w !== width || h !== height) throw new Error(`the page is ${w}×${h}`)
      return true
    }, { timeoutMs: 5_000 })
  }

  /** Saves a PNG of the window under tests/e2e/artifacts/ (`name` may hold a folder) and returns its path. */
  async screenshot(name) {
    const base64 = await this.call('GET', this.session('/screenshot'))
    const file = path.join(ARTIFACTS, `${name}.png`)
    mkdirSync(path.dirname(file), { recursive: true })
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

// ---- closing a window as its user does ----
// WebDriver cannot: its DELETE /session/{id}/window closes the WebKit *page* (the same as the
// page's own window.close()); wry answers that by destroying the webview widget only, so the
// empty GTK window stays and the app never hears that it closed. A user closes the window
// through the window manager, which sends the window WM_PROTOCOLS/WM_DELETE_WINDOW. Xvfb has no
// window manager, so this sends that message itself, with libX11 through Python's ctypes (no
// package beyond python3 and libX11, which GTK needs anyway), to every top-level window of the
// display named `title`.
const WM_CLOSE_PY = String.raw`
import ctypes, ctypes.util, sys
x = ctypes.cdll.LoadLibrary(ctypes.util.find_library('X11') or 'libX11.so.6')
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XDefaultRootWindow.restype = ctypes.c_ulong
x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)), ctypes.POINTER(ctypes.c_uint)]
x.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_char_p)]
x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
x.XFlush.argtypes = [ctypes.c_void_p]
x.XCloseDisplay.argtypes = [ctypes.c_void_p]

class XClientMessageEvent(ctypes.Structure):
    _fields_ = [('type', ctypes.c_int), ('serial', ctypes.c_ulong), ('send_event', ctypes.c_int),
                ('display', ctypes.c_void_p), ('window', ctypes.c_ulong), ('message_type', ctypes.c_ulong),
                ('format', ctypes.c_int), ('l', ctypes.c_long * 5)]
class XEvent(ctypes.Union):
    _fields_ = [('xclient', XClientMessageEvent), ('pad', ctypes.c_long * 24)]

title = sys.argv[1].encode()
d = x.XOpenDisplay(None)
if not d: sys.exit('cannot open display')
def walk(w):
    name = ctypes.c_char_p()
    if x.XFetchName(d, w, ctypes.byref(name)) and name.value == title:
        yield w
    root, parent, children, n = ctypes.c_ulong(), ctypes.c_ulong(), ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
    if x.XQueryTree(d, w, ctypes.byref(root), ctypes.byref(parent), ctypes.byref(children), ctypes.byref(n)):
        for i in range(n.value):
            yield from walk(children[i])
found = list(walk(x.XDefaultRootWindow(d)))
if not found: sys.exit(f'no window titled {sys.argv[1]!r}')
ev = XEvent()
for w in found:
    ev.xclient.type = 33  # ClientMessage
    ev.xclient.window = w
    ev.xclient.message_type = x.XInternAtom(d, b'WM_PROTOCOLS', 0)
    ev.xclient.format = 32
    ev.xclient.l[0] = x.XInternAtom(d, b'WM_DELETE_WINDOW', 0)
    ev.xclient.l[1] = 0  # CurrentTime
    x.XSendEvent(d, w, 0, 0, ctypes.byref(ev))
x.XFlush(d)
x.XCloseDisplay(d)
print(len(found))
`

/** Asks the window(s) titled `title` on $DISPLAY to close, as the window manager's close button does. */
export async function closeWindowAsUser(title) {
  const { stdout } = await promisify(execFile)('python3', ['-c', WM_CLOSE_PY, title], { timeout: 10_000 })
  return Number(stdout.trim())
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true })
}

/** Renders `config` ({ key: value }, or TOML lines) as the lines of the app's config file. */
function configLines(config) {
  if (Array.isArray(config)) return config
  return Object.entries(config).map(([key, value]) => `${key} = ${typeof value === 'string' ? JSON.stringify(value) : value}`)
}

/** The redirect URI registered for OpsDeck at the test OIDC provider (tests/oidc/README.md). */
export const OIDC_REDIRECT_URI = 'https://opsdeck.invalid/oauth/callback/oidc'

/**
 * The app's config keys for the test OpenID Connect provider that the README's test command
 * starts (tests/oidc/server.mjs); fails when OPSDECK_TEST_OIDC_ISSUER is not set.
 */
export function oidcConfig({ name = 'Test OIDC' } = {}) {
  const issuer = process.env.OPSDECK_TEST_OIDC_ISSUER
  if (!issuer) {
    throw new Error(
      'OPSDECK_TEST_OIDC_ISSUER is not set: this test signs in with the test OpenID Connect provider. ' +
        'Run it through scripts/test.sh, or start one (`node tests/oidc/server.mjs --port 9400`, or ' +
        '`source scripts/lib.sh && start_oidc 9400 /tmp/oidc`) and export OPSDECK_TEST_OIDC_ISSUER=http://127.0.0.1:9400',
    )
  }
  return {
    oidc_name: name,
    oidc_issuer_url: issuer.replace(/\/+$/, ''),
    oidc_client_id: 'opsdeck-test',
    oidc_client_secret: 'opsdeck-test-secret',
    oidc_redirect_uri: OIDC_REDIRECT_URI,
  }
}

/**
 * The desktop app on a scratch data dir and a Redis server of the test's own, with `env` for
 * the app and `config` ({ key: value } or TOML lines, e.g. `{ staff_default_role: 'viewer' }`,
 * `oidcConfig()`) written to its config file (`--config`; always one of the test's own, so the
 * account's ~/.config/opsdeck/config.toml never leaks in). The app's XDG directories are in the
 * scratch dir too, so the webview keeps no cookies or storage from one test to the next.
 * `close()` ends the session and removes what it made.
 */
export async function openConsole(name, env = {}, { config = {} } = {}) {
  const dir = scratchDir(name)
  const configFile = path.join(dir, 'config.toml')
  const lines = configLines(config)
  writeFileSync(configFile, lines.length ? `${lines.join('\n')}\n` : '')
  const xdg = {}
  for (const [variable, sub] of [['XDG_CONFIG_HOME', 'xdg-config'], ['XDG_DATA_HOME', 'xdg-data'], ['XDG_CACHE_HOME', 'xdg-cache']]) {
    xdg[variable] = path.join(dir, sub)
    mkdirSync(xdg[variable], { recursive: true })
  }
  const redis = await OwnRedis.start(dir)
  let app
  try {
    app = await Console.open({
      env: { ...xdg, OPSDECK_DATA_DIR: path.join(dir, 'data'), OPSDECK_REDIS_URL: redis.url, OPSDECK_REDIS_PREFIX: `e2e-${name}`, OPSDECK_SANDBOX_SHOP: 'false', ...env },
      args: ['--config', configFile],
    })
  } catch (e) {
    await redis.stop()
    removeDir(dir)
    throw e
  }
  return {
    app,
    redis,
    dir,
    async close() {
      await app.close()
      await redis.stop()
      removeDir(dir)
    },
  }
}

// ---- staff sign-in ----

/**
 * In the sign-in window `handle` (switched to first): picks the account and approves.
 * The built-in fakes (weibo, qq, wechat, dingtalk): `user` is the uid to choose in `#user`
 * (default: the preselected first user), then `#authorize`. OpenID Connect (the test provider):
 * `user` is the login name typed into `#login` (default `e2e-staff`), then `#submit`, which signs
 * in and consents in one step. Either way the page redirects to the redirect URI, the app stops
 * that navigation, and closes the window. Switches back to the console's window and waits for
 * the sign-in window to close.
 */
export async function approveSignIn(session, handle, { provider = 'weibo', user } = {}) {
  await session.switchToWindow(handle)
  try {
    if (provider === 'oidc') {
      await session.type('#login', user ?? 'e2e-staff')
      await clickClosing(session, handle, '#submit')
    } else {
      await session.mustFind('#user')
      if (user !== undefined) {
        await session.click(`#user option[value="${user}"]`)
        assert.equal(await selectedValue(session, '#user'), String(user), `uid ${user} chosen in #user`)
      }
      await clickClosing(session, handle, '#authorize')
    }
  } finally {
    await session.switchToMain()
  }
  await session.waitForWindowClosed(handle)
}

async function selectedValue(session, css) {
  return session.execute('return document.querySelector(arguments[0]).value', [css])
}

/** Clicks `css` in the sign-in window; the window may close under the click. */
async function clickClosing(session, handle, css) {
  try {
    await session.click(css)
  } catch (e) {
    if ((await session.windowHandles()).includes(handle)) throw e
  }
}

/**
 * Signs into the console through the sign-in window: clicks `signin-<provider>` on the sign-in
 * screen, approves in the provider's page (see approveSignIn for `user`), and waits for the
 * console's staff card. Resolves to the signed-in staff member as the core has them
 * (`{ user_id, name, role, provider, … }`); fails with the sign-in screen's message when the
 * sign-in did not end signed in (e.g. not_staff).
 */
export async function signIn(session, { provider = 'weibo', user } = {}) {
  await session.switchToMain()
  await session.mustFind('[data-testid="signin-screen"]')
  const handle = await session.openSignInWindow(`[data-testid="signin-${provider}"]`)
  await approveSignIn(session, handle, { provider, user })
  const outcome = await waitFor(`the console after signing in with ${provider}`, async () => {
    if (await session.find('[data-testid="staff-name"]')) return 'signed_in'
    const message = await session.text('[data-testid="signin-message"]')
    if (message) return `${await session.attribute('[data-testid="signin-message"]', 'data-status')}: ${message}`
    const error = await session.text('[data-testid="signin-screen"] [data-testid="error-banner"]')
    return error ? `error: ${error}` : null
  })
  if (outcome !== 'signed_in') throw new Error(`signing in with ${provider} did not open the console: ${outcome}`)
  const staff = await session.invoke('auth_session')
  if (!staff.ok || !staff.value) throw new Error(`the core has nobody signed in after the sign-in: ${JSON.stringify(staff)}`)
  return staff.value
}

/** Signs out from the staff card and waits for the sign-in screen. */
export async function signOut(session) {
  await session.switchToMain()
  await session.click('[data-testid="sign-out"]')
  await waitFor('the sign-in screen after signing out', () => session.find('[data-testid="signin-screen"]'))
}

/** What the console names a signed-in staff member as the actor of an action (`Actor::staff`). */
export function actorName(staff) {
  return `${staff.name} (#${staff.user_id})`
}
