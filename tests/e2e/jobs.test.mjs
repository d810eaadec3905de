// The Jobs page in the real desktop window: staff add jobs, pause one and its runs stop, run it
// now and a history row appears, and an invalid cron is refused in the form.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { openConsole, signIn, waitFor } from './harness.mjs'

let opened
let app

before(async () => {
  opened = await openConsole('jobs', { OPSDECK_LOG: 'warn' })
  app = opened.app
  await signIn(app) // staff actions need a signed-in operator or admin (the first sign-in is admin)
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
