import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import JobsView from '../views/JobsView.vue'
import { PREVIEW_DEBOUNCE_MS } from '../components/jobs/jobForm'
import type { TriggerSpec } from '../backend'
import { appInfo, backendPlugins, FakeBackend, fireTime, job, taskKind } from './fakeBackend'

let backend: FakeBackend
let wrapper: VueWrapper | undefined

const CRON_ERROR = 'Field 3 of the cron expression (hour) is “25”, which is not valid there; e.g. 0 */5 * * * *.'
const CRON_PARAMS = { position: '3', field: 'hour', value: '25', example: '0 */5 * * * *' }

async function mountView() {
  const { plugins } = backendPlugins(backend)
  wrapper = mount(JobsView, { global: { plugins }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

/** Lets the preview debounce run out and its answer arrive. */
async function settlePreview() {
  await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS)
  await flushPromises()
}

async function openEdit(name: string) {
  const w = await mountView()
  await w.get(`[data-testid="job-row"][data-job-name="${name}"] [data-testid="job-edit"]`).trigger('click')
  await settlePreview()
  return w
}

const form = (w: VueWrapper) => w.get('[data-testid="job-form"]')
const fieldError = (w: VueWrapper, field: string) => w.find(`[data-testid="field-error"][data-field="${field}"]`)
const previewTriggers = () => backend.callsTo('job_preview').map((a) => (a as { trigger: TriggerSpec }).trigger)

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  backend = new FakeBackend()
  backend.info = appInfo({ timezone: 'Asia/Shanghai' })
  backend.jobs = [
    job({
      id: 4,
      name: 'sync',
      kind: 'sync_accounts',
      trigger: { type: 'interval', every_seconds: 7200, start: null, end: null },
      trigger_text: 'every 2 hours',
      timezone: 'Europe/London',
      args: { full: false },
      policy: { misfire_grace_seconds: 30, coalesce: false, max_instances: 2, jitter_seconds: 5, timeout_seconds: 600 },
    }),
  ]
  backend.kinds = [
    taskKind({ name: 'send_report', description: 'Mails the daily report.', args_example: { to: 'ops@example.com' } }),
    taskKind({ name: 'cleanup_sessions', description: 'Deletes expired sessions.', args_example: { older_than_days: 30 } }),
  ]
  backend.preview = (trigger) =>
    trigger.type === 'cron' && trigger.expr.includes('25')
      ? { reject: { code: 'cron_invalid', field: 'trigger', message: 'cron: hour 25', params: CRON_PARAMS } }
      : [fireTime('2026-03-29T00:30:00+00:00'), fireTime('2026-03-29T02:30:00+01:00', 'gap_shifted')]
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
  vi.useRealTimers()
})

describe('the edit form', () => {
  it('opens with the job’s values and shows the preview of its next runs', async () => {
    const w = await openEdit('sync')
    const f = form(w)
    expect((f.get('[data-testid="trigger-type"]').element as HTMLSelectElement).value).toBe('interval')
    expect((f.get('[data-testid="trigger-every"]').element as HTMLInputElement).value).toBe('2')
    expect((f.get('[data-testid="trigger-unit"]').element as HTMLSelectElement).value).toBe('hours')
    expect((f.get('[data-testid="job-timezone"]').element as HTMLInputElement).value).toBe('Europe/London')
    expect(JSON.parse((f.get('[data-testid="job-args"]').element as HTMLTextAreaElement).value)).toEqual({ full: false })
    // Name and kind are not editable.
    expect(f.find('[data-testid="job-name"]').exists()).toBe(false)
    expect(f.find('[data-testid="job-kind"]').exists()).toBe(false)
    // The zone suggestions.
    const zones = f.findAll('datalist option').map((o) => o.attributes('value'))
    expect(zones).toEqual(['Asia/Shanghai', 'UTC', 'Europe/London', 'America/New_York', 'Asia/Tokyo', 'Europe/Berlin'])

    expect(backend.callsTo('job_preview')).toEqual([
      { trigger: { type: 'interval', every_seconds: 7200, start: null, end: null }, timezone: 'Europe/London', count: 5 },
    ])
    const items = f.findAll('[data-testid="job-preview"] [data-testid="preview-fire"]')
    expect(items.map((i) => i.get('time').text())).toEqual(['Mar 29, 2026, 00:30:00 +00:00', 'Mar 29, 2026, 02:30:00 +01:00'])
    expect(items[1]?.attributes('data-dst')).toBe('gap_shifted')
  })

  it('debounces the preview: one call for a burst of edits, none before the pause', async () => {
    const w = await openEdit('sync')
    const f = form(w)
    expect(previewTriggers()).toHaveLength(1)

    await f.get('[data-testid="trigger-type"]').setValue('cron')
    await f.get('[data-testid="trigger-cron"]').setValue('*/5 * * * *')
    await f.get('[data-testid="trigger-cron"]').setValue('*/15 * * * *')
    await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS - 1)
    expect(previewTriggers()).toHaveLength(1)

    await settlePreview()
    expect(previewTriggers()).toEqual([
      { type: 'interval', every_seconds: 7200, start: null, end: null },
      { type: 'cron', expr: '*/15 * * * *' },
    ])

    // A zone change previews again, in the new zone.
    await f.get('[data-testid="job-timezone"]').setValue('Asia/Tokyo')
    await settlePreview()
    expect(backend.callsTo('job_preview').slice(-1)[0]).toEqual({
      trigger: { type: 'cron', expr: '*/15 * * * *' },
      timezone: 'Asia/Tokyo',
      count: 5,
    })
  })

  it('shows the preview’s field error next to the trigger, and keeps the form open', async () => {
    const w = await openEdit('sync')
    const f = form(w)
    await f.get('[data-testid="trigger-type"]').setValue('cron')
    await f.get('[data-testid="trigger-cron"]').setValue('0 25 * * *')
    await settlePreview()

    expect(fieldError(w, 'trigger').text()).toBe(CRON_ERROR)
    expect(f.findAll('[data-testid="preview-fire"]')).toHaveLength(0)
    expect(w.find('[data-testid="form-error"]').exists()).toBe(false)

    // Fixing it clears the error and brings the preview back.
    await f.get('[data-testid="trigger-cron"]').setValue('0 23 * * *')
    await settlePreview()
    expect(fieldError(w, 'trigger').exists()).toBe(false)
    expect(f.findAll('[data-testid="preview-fire"]')).toHaveLength(2)
  })

  it('shows job_update’s field error next to the field, saves nothing and stays open', async () => {
    const w = await openEdit('sync')
    backend.failures.job_update = { code: 'cron_invalid', field: 'trigger', message: 'cron: hour 25', params: CRON_PARAMS }
    await form(w).get('[data-testid="job-save"]').trigger('submit')
    await flushPromises()

    expect(backend.callsTo('job_update')).toHaveLength(1)
    expect(fieldError(w, 'trigger').text()).toBe(CRON_ERROR)
    expect(w.find('[data-testid="job-form"]').exists()).toBe(true)
    expect(backend.jobs[0]?.trigger).toEqual({ type: 'interval', every_seconds: 7200, start: null, end: null })

    // An error naming no field goes to the top of the form.
    backend.failures.job_update = { code: 'database_unavailable', message: 'the database is unavailable: pool timed out' }
    await form(w).get('[data-testid="job-save"]').trigger('submit')
    await flushPromises()
    expect(w.get('[data-testid="form-error"]').text()).toBe('The database is not reachable.')
    expect(w.find('[data-testid="job-form"]').exists()).toBe(true)
  })

  it('saves with job_update: every_seconds from N and unit, policy and JSON args', async () => {
    const w = await openEdit('sync')
    const f = form(w)
    await f.get('[data-testid="trigger-every"]').setValue('15')
    await f.get('[data-testid="trigger-unit"]').setValue('minutes')
    await f.get('[data-testid="job-timezone"]').setValue('Asia/Tokyo')
    await f.get('[data-testid="policy-timeout"]').setValue('')
    await f.get('[data-testid="policy-coalesce"]').setValue(true)
    await f.get('[data-testid="job-args"]').setValue('{ "full": true, "limit": 10 }')
    await f.get('[data-testid="job-save"]').trigger('click')
    await flushPromises()

    expect(backend.callsTo('job_update')).toEqual([
      {
        id: 4,
        edit: {
          trigger: { type: 'interval', every_seconds: 900, start: null, end: null },
          timezone: 'Asia/Tokyo',
          policy: { misfire_grace_seconds: 30, coalesce: true, max_instances: 2, jitter_seconds: 5, timeout_seconds: null },
          args: { full: true, limit: 10 },
        },
      },
    ])
    expect(w.find('[data-testid="job-form"]').exists()).toBe(false)
    expect(w.get('[data-testid="job-row"][data-job-name="sync"] [data-testid="job-zone"]').text()).toBe('Asia/Tokyo')
  })

  it('checks the args are JSON before sending anything', async () => {
    const w = await openEdit('sync')
    await form(w).get('[data-testid="job-args"]').setValue('{ full: true')
    await form(w).trigger('submit')
    await flushPromises()
    expect(fieldError(w, 'args').text()).toMatch(/^Args are not valid JSON/)
    expect(backend.callsTo('job_update')).toEqual([])
    expect(w.find('[data-testid="job-form"]').exists()).toBe(true)
  })

  it('cancel closes without saving', async () => {
    const w = await openEdit('sync')
    await form(w).get('[data-testid="job-cancel"]').trigger('click')
    expect(w.find('[data-testid="job-form"]').exists()).toBe(false)
    expect(backend.callsTo('job_update')).toEqual([])
  })
})

describe('the add form', () => {
  it('creates a one-shot job: kind with description and example args, date trigger in the app’s zone', async () => {
    const w = await mountView()
    await w.get('[data-testid="job-add"]').trigger('click')
    await settlePreview()
    const f = form(w)

    expect((f.get('[data-testid="trigger-type"]').element as HTMLSelectElement).value).toBe('date')
    expect((f.get('[data-testid="job-timezone"]').element as HTMLInputElement).value).toBe('Asia/Shanghai')
    expect(f.findAll('[data-testid="job-kind"] option').map((o) => o.text())).toEqual(['send_report', 'cleanup_sessions'])
    expect(f.get('[data-testid="job-kind-description"]').text()).toBe('Mails the daily report.')
    expect(JSON.parse((f.get('[data-testid="job-args"]').element as HTMLTextAreaElement).value)).toEqual({
      to: 'ops@example.com',
    })

    await f.get('[data-testid="job-kind"]').setValue('cleanup_sessions')
    expect(f.get('[data-testid="job-kind-description"]').text()).toBe('Deletes expired sessions.')
    expect(JSON.parse((f.get('[data-testid="job-args"]').element as HTMLTextAreaElement).value)).toEqual({
      older_than_days: 30,
    })

    // Nothing is sent without a name.
    await f.trigger('submit')
    await flushPromises()
    expect(fieldError(w, 'name').exists()).toBe(true)
    expect(backend.callsTo('job_create')).toEqual([])

    await f.get('[data-testid="job-name"]').setValue('one-off cleanup')
    await f.get('[data-testid="trigger-date"]').setValue('2026-12-05T08:00')
    await settlePreview()
    expect(backend.callsTo('job_preview').slice(-1)[0]).toEqual({
      trigger: { type: 'date', at: '2026-12-05T08:00' },
      timezone: 'Asia/Shanghai',
      count: 5,
    })

    await f.trigger('submit')
    await flushPromises()
    expect(backend.callsTo('job_create')).toEqual([
      {
        draft: {
          name: 'one-off cleanup',
          kind: 'cleanup_sessions',
          trigger: { type: 'date', at: '2026-12-05T08:00' },
          timezone: 'Asia/Shanghai',
          args: { older_than_days: 30 },
          policy: { misfire_grace_seconds: 60, coalesce: true, max_instances: 1, jitter_seconds: 0, timeout_seconds: null },
        },
      },
    ])
    expect(w.find('[data-testid="job-form"]').exists()).toBe(false)
    expect(w.find('[data-testid="job-row"][data-job-name="one-off cleanup"]').exists()).toBe(true)
  })

  it('shows a create error next to the field it names', async () => {
    backend.failures.job_create = { code: 'job_name_taken', field: 'name', message: 'a job named "sync" already exists', params: { name: 'sync' } }
    const w = await mountView()
    await w.get('[data-testid="job-add"]').trigger('click')
    await settlePreview()
    await form(w).get('[data-testid="job-name"]').setValue('sync')
    await form(w).trigger('submit')
    await flushPromises()
    expect(fieldError(w, 'name').text()).toBe('A job named “sync” exists already.')
    expect(w.find('[data-testid="job-form"]').exists()).toBe(true)
  })
})
