// The console's memory under use (issue 19, item 6), driven by scripts/console-memory.sh: the
// desktop app (OPSDECK_DESKTOP_BIN, the release build) in sandbox mode with its simulated shop,
// on a Redis of its own, through WebKitWebDriver (tests/e2e/harness.mjs). Signs in, idles 60 s,
// measures, then visits every page in turn, one every few seconds, for --minutes, and measures
// again. Prints one JSON line on stdout; progress goes to stderr.
//
// Memory is summed over the app process and every process under it (WebKitWebProcess,
// WebKitNetworkProcess, any other), found through the process tree: the app is a child of the
// WebKitWebDriver the harness started, and WebKit's processes are the app's children. RSS counts
// a shared library once per process that maps it; PSS (from /proc/PID/smaps_rollup) splits each
// shared page between the processes that map it, so the sum counts it once.

import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs'
import { setTimeout as delay } from 'node:timers/promises'
import { parseArgs } from 'node:util'

import { openConsole, signIn, waitFor } from '../tests/e2e/harness.mjs'
import { commandName, descendants } from '../tests/e2e/procnet.mjs'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    'idle-seconds': { type: 'string', default: '60' },
    'page-seconds': { type: 'string', default: '3' },
  },
})
const minutes = Number(values.minutes)
const idleSeconds = Number(values['idle-seconds'])
const pageSeconds = Number(values['page-seconds'])
for (const [name, value] of [['--minutes', minutes], ['--idle-seconds', idleSeconds], ['--page-seconds', pageSeconds]]) {
  if (!Number.isFinite(value) || value < 0) {
    console.error(`console-memory: ${name} must be a number of ${name === '--minutes' ? 'minutes' : 'seconds'} (0 or more), e.g. 30`)
    process.exit(2)
  }
}

// Every page of the console, by its nav link and the route it opens.
const PAGES = [
  ['nav-overview', '#/'],
  ['nav-jobs', '#/jobs'],
  ['nav-ocr', '#/ocr'],
  ['nav-orders', '#/orders'],
  ['nav-accounts', '#/accounts'],
  ['nav-audit', '#/audit'],
  ['nav-settings', '#/settings'],
]

const log = (message) => process.stderr.write(`console-memory: ${message}\n`)

/** { rss, pss } in KiB for one process, from smaps_rollup; null when it is gone. */
function rollup(pid) {
  let text
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  } catch {
    return null
  }
  const field = (name) => Number(text.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN)
  return { rss: field('Rss'), pss: field('Pss') }
}

/** Libraries whose pages the measured processes may share with other processes on the machine. */
const SHARED_LIBRARIES = ['libwebkit2gtk', 'libjavascriptcoregtk', 'libLLVM']

/**
 * The other processes on the machine that map the big libraries our processes map (other
 * consoles, tests, and any X server with GLX: Mesa's driver loads libLLVM, which WebKit's web
 * process maps too). They share those pages with ours, so our PSS is lower while they run and
 * higher when they stop. Logged next to each figure, as NAME[PID], to read it by; the display this
 * measurement runs on (CONSOLE_MEMORY_XVFB_PID, set by console-memory.sh) is part of the set-up and
 * not listed.
 */
function otherSharers(ours) {
  const own = Number(process.env.CONSOLE_MEMORY_XVFB_PID)
  const found = []
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!/^\d+$/.test(entry) || ours.has(pid) || pid === own) continue
    try {
      const maps = readFileSync(`/proc/${entry}/maps`, 'utf8')
      if (SHARED_LIBRARIES.some((library) => maps.includes(library))) found.push(`${commandName(pid)}[${pid}]`)
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found.length ? found.join(' ') : 'none'
}

/**
 * The pages the processes use, each counted once however many of them map it, in KiB: what their
 * PSS would add up to if nothing else on the machine shared their libraries. From
 * /proc/PID/pagemap (present pages' frame numbers, which only root can read); null otherwise.
 */
function distinctKiB(pids) {
  const frames = new Set()
  const entry = Buffer.alloc(8 * 65536)
  for (const pid of pids) {
    let smaps
    let fd
    try {
      smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8')
      fd = openSync(`/proc/${pid}/pagemap`, 'r')
    } catch {
      continue
    }
    try {
      let range = null
      for (const line of smaps.split('\n')) {
        const head = line.match(/^([0-9a-f]+)-([0-9a-f]+) /)
        if (head) range = [parseInt(head[1], 16) / 4096, parseInt(head[2], 16) / 4096]
        else if (range && line.startsWith('Rss:') && !/^Rss:\s+0 kB/.test(line)) {
          for (let page = range[0]; page < range[1]; page += 65536) {
            const count = Math.min(65536, range[1] - page)
            const read = readSync(fd, entry, 0, count * 8, page * 8)
            for (let i = 0; i < read / 8; i++) {
              const word = entry.readBigUInt64LE(i * 8)
              if (word >> 63n) frames.add(word & 0x7fffffffffffffn) // present: its frame number
            }
          }
        }
      }
    } finally {
      closeSync(fd)
    }
  }
  if (frames.size > 0 && [...frames].every((f) => f === 0n)) return null // frame numbers hidden (not root)
  return frames.size * 4
}

/**
 * With CONSOLE_MEMORY_SMAPS_DIR set, each measurement also copies every process's
 * /proc/PID/smaps there (LABEL-NAME-PID.smaps), to see which mappings hold the memory.
 */
function keepSmaps(label, processes) {
  const dir = process.env.CONSOLE_MEMORY_SMAPS_DIR
  if (!dir) return
  mkdirSync(dir, { recursive: true })
  for (const p of processes) {
    try {
      writeFileSync(`${dir}/${label}-${p.name}-${p.pid}.smaps`, readFileSync(`/proc/${p.pid}/smaps`, 'utf8'))
    } catch {
      // gone meanwhile
    }
  }
}

/** The app (the driver's children) and everything under it, summed, in MiB; per process too. */
function measure(driverPid, label) {
  const processes = []
  for (const pid of descendants(driverPid)) {
    const r = rollup(pid)
    if (r) processes.push({ pid, name: commandName(pid), ...r })
  }
  keepSmaps(label, processes)
  if (processes.length === 0) throw new Error(`the app is not running (no process under WebKitWebDriver, pid ${driverPid})`)
  const mib = (kib) => Math.round((kib / 1024) * 10) / 10
  const alone = distinctKiB(processes.map((p) => p.pid))
  return {
    alone_mb: alone === null ? null : mib(alone),
    rss_mb: mib(processes.reduce((s, p) => s + p.rss, 0)),
    pss_mb: mib(processes.reduce((s, p) => s + p.pss, 0)),
    processes:
      processes.map((p) => `${p.name}[${p.pid}] pss ${mib(p.pss)} rss ${mib(p.rss)}`).join(', ') +
      `; other processes sharing its libraries: ${otherSharers(new Set(processes.map((p) => p.pid)))}`,
  }
}

/**
 * What the page holds that could grow with use, for the progress lines: its elements, the Tauri
 * IPC callbacks registered (one per live event listener and pending command) and the event
 * listener records Tauri keeps on the window.
 */
async function pageCounts(app) {
  return app.execute(`
    // Tauri's record of the window's event listeners (its own name for it, tauri 2).
    const records = window.__internal_unstable_listeners_object_id__ ?? {}
    return {
      elements: document.getElementsByTagName('*').length,
      callbacks: window.__TAURI_INTERNALS__.callbacks?.size ?? null,
      // (defined non-enumerable, hence getOwnPropertyNames)
      listener_records: Object.getOwnPropertyNames(records)
        .reduce((n, event) => n + Object.getOwnPropertyNames(records[event]).length, 0),
    }`)
}

/** How long each page took to open, from the click to its title (ms), for the progress lines. */
const visitTimes = []

async function visit(app, [link, hash]) {
  const started = performance.now()
  await app.click(`[data-testid="${link}"]`)
  await waitFor(`the page ${hash} after clicking ${link}`, async () => (await app.execute('return location.hash')) === hash)
  await app.mustFind('[data-testid="page-title"]')
  visitTimes.push(performance.now() - started)
}

/** The median and slowest page opening since the last call, e.g. "median 180 ms, slowest 420 ms". */
function visitSummary() {
  const times = visitTimes.splice(0).sort((a, b) => a - b)
  if (times.length === 0) return 'no page opened'
  return `a page opened in ${Math.round(times[times.length >> 1])} ms (median), ${Math.round(times[times.length - 1])} ms at most`
}

/** More environment for the app, to compare settings: CONSOLE_MEMORY_APP_ENV='{"JSC_useJIT":"true"}'. */
function appEnv() {
  try {
    return JSON.parse(process.env.CONSOLE_MEMORY_APP_ENV ?? '{}')
  } catch {
    console.error('console-memory: CONSOLE_MEMORY_APP_ENV must be a JSON object of strings, e.g. {"JSC_useJIT":"true"}')
    process.exit(2)
  }
}

// Sandbox mode as it starts with nothing configured: the simulated shop on, at its default pace,
// so the pages have live data and events to show (the harness turns the shop off by default).
const opened = await openConsole('console-memory', { OPSDECK_SANDBOX_SHOP: 'true', OPSDECK_LOG: 'warn', ...appEnv() })
let failed = false
try {
  const { app } = opened
  const driverPid = app.driver.pid
  await signIn(app)
  log(`signed in; idling ${idleSeconds} s on the Overview`)
  await delay(idleSeconds * 1000)
  const idle = measure(driverPid, 'idle')
  log(`idle: pss ${idle.pss_mb} MiB (${idle.alone_mb} MiB of distinct pages), rss ${idle.rss_mb} MiB (${idle.processes})`)

  const end = Date.now() + minutes * 60_000
  let visits = 0
  let nextReport = Date.now() + 60_000
  while (Date.now() < end) {
    await visit(app, PAGES[visits % PAGES.length])
    visits++
    await delay(pageSeconds * 1000)
    if (Date.now() >= nextReport) {
      nextReport += 60_000
      const minute = Math.round((minutes * 60_000 - (end - Date.now())) / 60_000)
      const now = measure(driverPid, `minute-${String(minute).padStart(3, '0')}`)
      const counts = await pageCounts(app)
      log(
        `${minute} min, ${visits} page visits: pss ${now.pss_mb} MiB (${now.alone_mb} MiB of distinct pages), rss ${now.rss_mb} MiB ` +
          `(${now.processes}; page: ${JSON.stringify(counts)}; ${visitSummary()})`,
      )
    }
  }
  // Back on the Overview, where the idle figure was taken.
  await visit(app, PAGES[0])
  await delay(pageSeconds * 1000)
  const after = measure(driverPid, 'after')
  log(`after ${minutes} min (${visits} page visits): pss ${after.pss_mb} MiB (${after.alone_mb} MiB of distinct pages), rss ${after.rss_mb} MiB (${after.processes})`)
  process.stdout.write(
    `${JSON.stringify({
      bench: 'console-memory',
      idle_rss_mb: idle.rss_mb,
      idle_pss_mb: idle.pss_mb,
      after_soak_rss_mb: after.rss_mb,
      after_soak_pss_mb: after.pss_mb,
      soak_minutes: minutes,
    })}\n`,
  )
} catch (e) {
  failed = true
  log(`failed: ${e instanceof Error ? e.message : e}`)
} finally {
  await opened.close()
}
process.exit(failed ? 1 : 0)
