// A job's row while its run goes on: Stop stops that run (confirmed, the outcome in a notice), as
// the run history's Stop does; a run that is not running offers none.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import type { Pinia } from 'pinia'
import { useNoticesStore } from '../stores/notices'
import JobsView from '../views/JobsView.vue'
import { backendPlugins, FakeBackend, job, jobRun } from './fakeBackend'

let backend: FakeBackend
let wrapper: VueWrapper | undefined
let pinia: Pinia

async function mountView() {
  const mounted = backendPlugins(backend)
  pinia = mounted.pinia
  wrapper = mount(JobsView, { global: { plugins: mounted.plugins }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

const row = (w: VueWrapper, name: string) => w.get(`[data-testid="job-row"][data-job-name="${name}"]`)
const running = () =>
  jobRun({ id: 40, job_id: 2, job_name: 'report', outcome: 'running', finished_at: null, duration_ms: null })

beforeEach(() => {
  backend = new FakeBackend()
  backend.jobs = [job({ id: 1, name: 'cleanup', last_run: jobRun({ id: 39 }) }), job({ id: 2, name: 'report', last_run: running() })]
  backend.stoppableRuns = [running()]
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
})

describe('Stop on a job’s row', () => {
  it('shows only while the job’s run goes on, asks first, and stops that run', async () => {
    const w = await mountView()
    expect(row(w, 'cleanup').find('[data-testid="job-stop"]').exists()).toBe(false)
    await row(w, 'report').get('[data-testid="job-stop"]').trigger('click')
    expect(w.get('[data-testid="confirm-dialog"]').text()).toContain('Stop run #40 of “report”?')
    await w.get('[data-testid="confirm-ok"]').trigger('click')
    await flushPromises()
    expect(backend.callsTo('run_stop')).toEqual([{ id: 40 }])
    expect(useNoticesStore(pinia).notices.map((n) => n.text)).toEqual(['Stopped run #40 of “report”.'])
    expect(row(w, 'report').get('[data-testid="job-last-outcome"]').attributes('data-outcome')).toBe('stopped')
    expect(row(w, 'report').find('[data-testid="job-stop"]').exists()).toBe(false)
  })

  it('is disabled while the core has not answered', async () => {
    let answer: () => void = () => {}
    const stop = backend.runStop.bind(backend)
    backend.runStop = (id: number) => new Promise((done) => (answer = () => done(stop(id))))
    const w = await mountView()
    await row(w, 'report').get('[data-testid="job-stop"]').trigger('click')
    await w.get('[data-testid="confirm-ok"]').trigger('click')
    await flushPromises()
    const button = row(w, 'report').get('[data-testid="job-stop"]')
    expect(button.attributes('disabled')).toBeDefined()
    expect(button.text()).toBe('Stopping…')
    answer()
    await flushPromises()
    expect(row(w, 'report').find('[data-testid="job-stop"]').exists()).toBe(false)
  })
})
