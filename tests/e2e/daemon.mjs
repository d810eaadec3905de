// A separate `opsdeckd` for the remote-mode end-to-end tests: `opsdeckd run --sandbox --listen`
// over HTTPS (a certificate of the throwaway CA the test command makes) on the test Redis (a
// prefix of its own) and the test MariaDB (a database of its own, created here and dropped at the
// end), as a process the test may stop and start again on the same port and data. Also its
// command line (`opsdeckd staff token`) and its HTTP API, as the shop's scripts reach them.
// No dependencies beyond Node's standard library.

import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import path from 'node:path'
import { promisify } from 'node:util'

import { ARTIFACTS, ROOT, freePort, removeDir, scratchDir, waitFor } from './harness.mjs'

const run = promisify(execFile)

export const DAEMON_BIN = process.env.OPSDECK_DAEMON_BIN ?? path.join(ROOT, 'target/debug/opsdeckd')

/** The test services' URLs (scripts/test.sh exports them), failing clearly when one is missing. */
export function testServices() {
  const missing = ['OPSDECK_TEST_REDIS_URL', 'OPSDECK_TEST_MYSQL_URL'].filter((v) => !process.env[v])
  if (missing.length) {
    throw new Error(
      `${missing.join(' and ')} not set: the remote-mode tests run opsdeckd on the test Redis and MariaDB. ` +
        'Run them through scripts/test.sh, or export OPSDECK_TEST_REDIS_URL=redis://127.0.0.1:PORT/0 and ' +
        'OPSDECK_TEST_MYSQL_URL=mysql://USER:PASS@127.0.0.1:PORT/ (a user that may create databases).',
    )
  }
  const redis = new URL(process.env.OPSDECK_TEST_REDIS_URL)
  const mysql = new URL(process.env.OPSDECK_TEST_MYSQL_URL)
  return {
    redisUrl: process.env.OPSDECK_TEST_REDIS_URL,
    redisPort: Number(redis.port || 6379),
    mysql,
    mysqlPort: Number(mysql.port || 3306),
  }
}

/**
 * The throwaway CA's files `{ ca, cert, key }` (PEM paths): the one the test command made
 * (OPSDECK_TEST_CA_DIR, `make_test_ca` in scripts/lib.sh), else one made now in `dir` by the same
 * function, so a test run by hand needs nothing more.
 */
export async function testCa(dir) {
  let caDir = process.env.OPSDECK_TEST_CA_DIR
  if (!caDir) {
    caDir = path.join(dir, 'ca')
    await run('bash', ['-c', 'source "$1/scripts/lib.sh" && make_test_ca "$2"', 'make_test_ca', ROOT, caDir], { timeout: 60_000 })
  }
  const files = { ca: path.join(caDir, 'ca.pem'), cert: path.join(caDir, 'server.pem'), key: path.join(caDir, 'server.key') }
  for (const [what, file] of Object.entries(files)) {
    if (!existsSync(file)) throw new Error(`the test CA has no ${what} file at ${file} (make_test_ca in scripts/lib.sh writes ca.pem, server.pem, server.key)`)
  }
  return files
}

/** Runs SQL on the test MariaDB as its user, with the `mariadb` client (password in the environment). */
async function mysqlExec(services, sql) {
  const { mysql, mysqlPort } = services
  await run('mariadb', ['--no-defaults', '-h', mysql.hostname, '-P', String(mysqlPort), '-u', decodeURIComponent(mysql.username), '-e', sql], {
    env: { ...process.env, MYSQL_PWD: decodeURIComponent(mysql.password) },
    timeout: 30_000,
  })
}

/** A GET/POST/… over HTTPS trusting `ca`; resolves to `{ status, json, text }` (json null when not JSON). */
export function httpsCall(url, { method = 'GET', ca, token, body, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const headers = { accept: 'application/json' }
    if (token) headers.authorization = `Bearer ${token}`
    const payload = body === undefined ? undefined : JSON.stringify(body)
    if (payload !== undefined) headers['content-type'] = 'application/json'
    const req = httpsRequest(url, { method, ca, headers, timeout: timeoutMs }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json = null
        try {
          json = text ? JSON.parse(text) : null
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode, json, text })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end(payload)
  })
}

/** `opsdeckd run --sandbox --listen 127.0.0.1:<port>` over HTTPS, stopped and started at will. */
export class Daemon {
  /**
   * Starts a daemon named `name` (its Redis prefix and database are derived from it and this
   * process, so parallel runs never share them) with `env` added to its environment.
   */
  static async start(name, env = {}) {
    const services = testServices()
    const dir = scratchDir(`daemon-${name}`)
    const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`
    const database = `opsdeck_e2e_${name.replace(/[^a-z0-9]/gi, '_')}_${suffix}`.slice(0, 64)
    const daemon = new Daemon({ name, dir, services, database, port: await freePort(), ca: await testCa(dir) })
    daemon.extraEnv = env
    try {
      await mysqlExec(services, `CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4`)
      daemon.databaseCreated = true
      await daemon.restart()
    } catch (e) {
      await daemon.close()
      throw e
    }
    return daemon
  }

  constructor({ name, dir, services, database, port, ca }) {
    this.name = name
    this.dir = dir
    this.services = services
    this.database = database
    this.port = port
    this.ca = ca
    this.caPem = readFileSync(ca.ca)
    this.proc = null
    this.databaseCreated = false
    this.extraEnv = {}
    this.apiToken = randomBytes(24).toString('base64url')
    this.configFile = path.join(dir, 'opsdeckd.toml')
    this.logFile = path.join(dir, 'opsdeckd.log')
    writeFileSync(this.configFile, '') // its own (empty) file: the account's config never leaks in
  }

  /** The server URL the desktop is given (the certificate names 127.0.0.1). */
  get url() {
    return `https://127.0.0.1:${this.port}`
  }

  get databaseUrl() {
    const { mysql, mysqlPort } = this.services
    return `mysql://${mysql.username}:${mysql.password}@${mysql.hostname}:${mysqlPort}/${this.database}`
  }

  /** The daemon's environment, and its command line's: nothing from the caller's OPSDECK_… leaks in. */
  env() {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OPSDECK_')))
    return {
      ...clean,
      HOME: this.dir,
      XDG_CONFIG_HOME: path.join(this.dir, 'config'),
      NO_COLOR: '1',
      OPSDECK_DATA_DIR: path.join(this.dir, 'data'),
      OPSDECK_DATABASE_URL: this.databaseUrl,
      OPSDECK_REDIS_URL: this.services.redisUrl,
      OPSDECK_REDIS_PREFIX: `e2e-${this.name}-${process.pid}`,
      OPSDECK_API_TOKEN: this.apiToken,
      OPSDECK_TLS_CERT: this.ca.cert,
      OPSDECK_TLS_KEY: this.ca.key,
      OPSDECK_LOG: 'warn,opsdeckd=info',
      ...this.extraEnv,
    }
  }

  /** True while the daemon process this object started runs. */
  get running() {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null
  }

  /** Starts the daemon (again, on the same port and data) and waits until /healthz answers 200 over HTTPS. */
  async restart() {
    if (this.running) throw new Error(`opsdeckd ${this.name} is running already`)
    const log = openSync(this.logFile, 'a')
    let proc
    try {
      proc = spawn(DAEMON_BIN, ['--config', this.configFile, 'run', '--sandbox', '--listen', `127.0.0.1:${this.port}`], {
        env: this.env(),
        stdio: ['ignore', log, log],
      })
    } finally {
      closeSync(log)
    }
    this.proc = proc
    proc.once('error', () => {}) // reported through exitCode and the health wait below
    await waitFor(
      `opsdeckd ${this.name} answering ${this.url}/healthz with 200 over HTTPS (log: ${this.logFile})`,
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`opsdeckd exited (${proc.exitCode ?? proc.signalCode}); its log ends:\n${this.logTail()}`)
        }
        const { status } = await httpsCall(`${this.url}/healthz`, { ca: this.caPem, timeoutMs: 2_000 })
        return status === 200
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    ).catch((e) => {
      throw new Error(`${e.message}\n${this.logTail()}`)
    })
  }

  /** Stops the daemon with SIGTERM and waits for it to exit (SIGKILL after 30 s, reported). */
  async stop() {
    const proc = this.proc
    if (!proc) return
    this.proc = null
    if (proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })))
    proc.kill('SIGTERM')
    const timeout = new Promise((resolve) => setTimeout(resolve, 30_000, null).unref())
    const outcome = await Promise.race([exited, timeout])
    if (outcome === null) {
      proc.kill('SIGKILL')
      await exited
      throw new Error(`opsdeckd ${this.name} did not stop within 30 s of SIGTERM (killed); its log ends:\n${this.logTail()}`)
    }
  }

  /** The last lines of the daemon's log, for failure messages. */
  logTail(lines = 30) {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
    } catch {
      return '(no log)'
    }
  }

  /** Runs `opsdeckd <args>` on the daemon's configuration (database, Redis); resolves to stdout. */
  async cli(args) {
    try {
      const { stdout } = await run(DAEMON_BIN, ['--config', this.configFile, ...args], { env: this.env(), timeout: 60_000 })
      return stdout
    } catch (e) {
      throw new Error(`opsdeckd ${args.join(' ')} failed (${e.code ?? e.signal}): ${e.stderr ?? e.message}`)
    }
  }

  /** `opsdeckd staff token --name NAME --role ROLE`: creates or updates the member; their new session token. */
  async staffToken(name, role) {
    const stdout = await this.cli(['staff', 'token', '--name', name, '--role', role])
    const token = stdout.trimEnd().split('\n').pop()?.trim()
    if (!token) throw new Error(`opsdeckd staff token --name ${name} printed no token`)
    return token
  }

  /**
   * A console operation over HTTPS (`/api/v1/…`) with a staff session `token`; resolves to the
   * JSON answer, failing with the status and body when it is not 2xx.
   */
  async api(method, route, { token, body } = {}) {
    const { status, json, text } = await httpsCall(`${this.url}${route}`, { method, ca: this.caPem, token, body })
    if (status < 200 || status > 299) throw new Error(`${method} ${route}: ${status} ${text}`)
    return json
  }

  /** Stops the daemon, drops its database, keeps its log in the artifacts and removes the rest. */
  async close() {
    const problems = []
    await this.stop().catch((e) => problems.push(e))
    if (this.databaseCreated) {
      await mysqlExec(this.services, `DROP DATABASE IF EXISTS \`${this.database}\``).catch((e) => problems.push(e))
      this.databaseCreated = false
    }
    if (existsSync(this.logFile)) {
      mkdirSync(ARTIFACTS, { recursive: true })
      copyFileSync(this.logFile, path.join(ARTIFACTS, `${this.name}-opsdeckd.log`))
    }
    removeDir(this.dir)
    if (problems.length) throw problems[0]
  }
}
