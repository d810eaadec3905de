// The Jobs page in the real desktop window: staff add jobs, pause one and its runs stop, run it
// now and a history row appears, and an invalid cron is refused in the form. A long run started
// by hand says who started it, and Stop ends it: recorded stopped, in the job's charts, audited.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { actorName, openConsole, signIn, waitFor } from './harness.mjs'

let opened
let app
/** The signed-in staff member, as the core names them in the history and the audit log. */
let me

before(async () => {
  opened = await openConsole('jobs', { OPSDECK_LOG: 'warn' })
  app = opened.app
  me = actorName(await signIn(app)) // staff actions need an operator or admin (the first sign-in is admin)
  await app.click('[data-testid="nav-jobs"]')
  await waitFor('the Jobs page', async () => (await app.text('[data-testid="page-title"]')) === 'Jobs')
})

after(async () => {
  await opened?.close()
})

const row = (name) => `[data-testid="job-row"][data-job-name="${name}"]`
const runRows = (name) => `[data-testid="run-row"][data-job-name="${name}"]`

/** The id of the newest history row of job `name` (0 when none). */
async function newestRunId(name) {
  const ids = await app.findAll(runRows(name))
  let newest = 0
  for (const id of ids) newest = Math.max(newest, Number(await app.elementAttribute(id, 'data-run-id')))
  return newest
}

async function addEverySecondJob(name) {
  await app.click('[data-testid="job-add"]')
  await app.mustFind('[data-testid="job-form"]')
  await app.type('[data-testid="job-name"]', name)
  await app.select('[data-testid="job-kind"]', 'noop')
  await app.select('[data-testid="trigger-type"]', 'interval')
  await app.type('[data-testid="trigger-every"]', '1')
  await app.select('[data-testid="trigger-unit"]', 'seconds')
  await app.type('[data-testid="job-args"]', '{}')
  await waitFor(`the preview of ${name}'s next fire times`, async () => (await app.findAll('[data-testid="preview-fire"]')).length === 5)
  await app.click('[data-testid="job-save"]')
  await waitFor('the form to close', async () => (await app.find('[data-testid="job-form"]')) === null)
  await app.mustFind(row(name))
}

test('staff add jobs from the console and they run', async () => {
  await addEverySecondJob('e2e-tick')
  await addEverySecondJob('e2e-sentinel')
  await waitFor('a run of e2e-tick in the history', async () => (await newestRunId('e2e-tick')) > 0, { timeoutMs: 15_000 })
  const fires = await app.findAll(`${row('e2e-tick')} [data-testid="job-fire"]`)
  assert.equal(fires.length, 5, 'the next five fire times are listed')
  await app.screenshot('jobs-running')
})

test('pausing a job stops its runs', async () => {
  await app.click(`${row('e2e-tick')} [data-testid="job-pause"]`)
  await app.click('[data-testid="confirm-dialog"] [data-testid="confirm-ok"]')
  await waitFor('e2e-tick shown paused', async () => (await app.text(`${row('e2e-tick')} [data-testid="job-paused"]`))?.trim() === 'paused')
  // A run decided just before the pause may still land; take the newest after one sentinel run.
  const sentinelAtPause = await newestRunId('e2e-sentinel')
  await waitFor('a sentinel run after the pause', async () => (await newestRunId('e2e-sentinel')) > sentinelAtPause, { timeoutMs: 10_000 })
  const tickAfterPause = await newestRunId('e2e-tick')
  const sentinelMark = await newestRunId('e2e-sentinel')
  // Three more sentinel runs prove time went on (runs get increasing ids).
  await waitFor('three more sentinel runs', async () => {
    const ids = await app.findAll(runRows('e2e-sentinel'))
    let newer = 0
    for (const id of ids) if (Number(await app.elementAttribute(id, 'data-run-id')) > sentinelMark) newer += 1
    return newer >= 3
  }, { timeoutMs: 15_000 })
  assert.equal(await newestRunId('e2e-tick'), tickAfterPause, 'no run of the paused job')
})

test('run now adds a history row, even for a paused job', async () => {
  const before = await newestRunId('e2e-tick')
  const jobId = await app.attribute(row('e2e-tick'), 'data-job-id')
  await app.click(`${row('e2e-tick')} [data-testid="job-run-now"]`)
  // Said in a notice (Notices.vue) whose "View run" shows the job's runs: the sentinel, which
  // runs every second, leaves the history.
  const notice = `[data-testid="notice"][data-kind="success"][data-key="job.run:${jobId}"]`
  assert.match((await waitFor('the Run now notice', () => app.text(notice))) ?? '', /Started a run of “e2e-tick”/)
  await app.click(`${notice} [data-testid="notice-link"]`)
  await waitFor('the history filtered to e2e-tick', async () => (await app.findAll(runRows('e2e-sentinel'))).length === 0)
  assert.ok((await app.findAll(runRows('e2e-tick'))).length > 0, 'e2e-tick runs listed')
  assert.equal(await app.find(notice), null, 'the notice closes when its link is followed')
  await waitFor('a new e2e-tick run in the history', async () => (await newestRunId('e2e-tick')) > before)
  await waitFor('its outcome ok', async () => {
    const ids = await app.findAll(runRows('e2e-tick'))
    for (const id of ids) {
      if (Number(await app.elementAttribute(id, 'data-run-id')) > before) return (await app.elementAttribute(id, 'data-outcome')) === 'ok'
    }
    return false
  })
})

test('an invalid cron is refused in the form and nothing is saved', async () => {
  await app.click(`${row('e2e-sentinel')} [data-testid="job-edit"]`)
  await app.mustFind('[data-testid="job-form"]')
  await app.select('[data-testid="trigger-type"]', 'cron')
  await app.type('[data-testid="trigger-cron"]', '0 25 * * *')
  const error = '[data-testid="field-error"][data-field="trigger"]'
  await waitFor('the trigger error from the preview', async () => /hour/.test((await app.text(error)) ?? ''))
  await app.click('[data-testid="job-save"]')
  await waitFor('the trigger error after saving', async () => /hour/.test((await app.text(error)) ?? ''))
  assert.notEqual(await app.find('[data-testid="job-form"]'), null, 'the form stays open')
  await app.screenshot('jobs-invalid-cron')
  await app.click('[data-testid="job-cancel"]')
  await waitFor('the form to close', async () => (await app.find('[data-testid="job-form"]')) === null)
  const trigger = await app.text(`${row('e2e-sentinel')} [data-testid="job-trigger"]`)
  assert.match(trigger, /every 1 second/, 'the job keeps its trigger')
})

test('a long run started by hand says who started it, and Stop ends it, recorded and audited', async () => {
  await app.click('[data-testid="job-add"]')
  await app.mustFind('[data-testid="job-form"]')
  await app.type('[data-testid="job-name"]', 'e2e-long')
  await app.select('[data-testid="job-kind"]', 'sleep')
  await app.select('[data-testid="trigger-type"]', 'cron')
  await app.type('[data-testid="trigger-cron"]', '0 3 1 1 *') // not during the test: only by hand
  await app.type('[data-testid="job-args"]', '{"seconds": 600}')
  await app.click('[data-testid="job-save"]')
  await waitFor('the form to close', async () => (await app.find('[data-testid="job-form"]')) === null)
  const jobId = await app.attribute(row('e2e-long'), 'data-job-id')

  await app.click(`${row('e2e-long')} [data-testid="job-run-now"]`)
  const started = `[data-testid="notice"][data-kind="success"][data-key="job.run:${jobId}"]`
  await waitFor('the Run now notice', () => app.find(started))
  await app.click(`${started} [data-testid="notice-link"]`)
  // The run gets its history row once it has gone on for a second.
  const running = `${runRows('e2e-long')}[data-outcome="running"]`
  await waitFor('the run shown running', () => app.find(running), { timeoutMs: 15_000 })
  const runId = await app.attribute(running, 'data-run-id')
  const run = `[data-testid="run-row"][data-run-id="${runId}"]`
  assert.equal(await app.attribute(run, 'data-started-by'), me)
  assert.equal((await app.text(`${run} [data-testid="run-started-by"]`))?.trim(), `· manual · ${me}`)
  await app.mustFind('[data-testid="job-charts"][data-job-name="e2e-long"]')
  await app.mustFind('[data-testid="job-charts-collecting"]')
  await app.screenshot('jobs-long-run')

  await app.click(`${run} [data-testid="run-stop"]`)
  assert.match((await app.text('[data-testid="confirm-dialog"]')) ?? '', new RegExp(`Stop run #${runId} of “e2e-long”`))
  await app.click('[data-testid="confirm-dialog"] [data-testid="confirm-ok"]')
  await waitFor('the run shown stopped', async () => (await app.attribute(run, 'data-outcome')) === 'stopped')
  const stopped = `[data-testid="notice"][data-kind="success"][data-key="run.stop:${runId}"]`
  assert.match((await waitFor('the Stop notice', () => app.text(stopped))) ?? '', new RegExp(`Stopped run #${runId} of “e2e-long”\\.`))
  assert.equal(await app.find(`${run} [data-testid="run-stop"]`), null, 'no Stop on a stopped run')
  await waitFor('the stopped run in the job\'s charts', async () =>
    (await app.attribute('[data-testid="job-charts"]', 'data-points')) === '1')
  await app.click(`${run} .run-job`) // opens its detail
  assert.equal((await app.text('[data-testid="run-error"]'))?.trim(), `Stopped by ${me}.`)
  assert.equal((await app.text('[data-testid="run-detail-started-by"]'))?.trim(), `manual · ${me}`)
  await app.screenshot('jobs-run-stopped')
  await app.click('[data-testid="run-detail-close"]')

  await app.click('[data-testid="nav-audit"]')
  const sentence = `Stopped run #${runId} of the job “e2e-long”.`
  await waitFor('the stop in the audit log', () =>
    app.execute(
      `return [...document.querySelectorAll('[data-testid="audit-row"][data-action="job.stop"]')]
         .some((r) => r.querySelector('[data-testid="audit-sentence"]')?.textContent.trim() === arguments[0])`,
      [sentence],
    ),
  )
  await app.click('[data-testid="nav-jobs"]')
  await waitFor('the Jobs page again', async () => (await app.text('[data-testid="page-title"]')) === 'Jobs')
})
