import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { provideBackend } from '../backend'
import { useAccountsStore } from '../stores/accounts'
import { useHealthStore } from '../stores/health'
import { useJobsStore } from '../stores/jobs'
import { useOcrStore } from '../stores/ocr'
import { useOrdersStore } from '../stores/orders'
import { useOverviewStore } from '../stores/overview'
import { useSessionStore } from '../stores/session'
import { useSessionsStore } from '../stores/sessions'
import AuditView from '../views/AuditView.vue'
import {
  backendPlugins,
  FakeBackend,
  job,
  ocrRequest,
  order,
  overview,
  remoteConnection,
  report,
  sessionView,
  staffMember,
  userView,
} from './fakeBackend'

// Events lost (a `resync` core event, or the link to the server lost and back): every store
// reloads what it shows. Each case changes the fake core's data behind the store's back (no
// event tells it), then checks the store shows the change only after the resync.
let backend: FakeBackend

function stores() {
  const app = createApp({ render: () => null })
  provideBackend(app, backend)
  app.use(createPinia())
  return {
    health: useHealthStore(),
    overview: useOverviewStore(),
    jobs: useJobsStore(),
    ocr: useOcrStore(),
    orders: useOrdersStore(),
    accounts: useAccountsStore(),
    session: useSessionStore(),
    sessions: useSessionsStore(),
  }
}

type Stores = ReturnType<typeof stores>

/** Per store: what changes on the core meanwhile, and what the store shows of it. */
const cases: { name: keyof Stores; change: () => void; shown: (s: Stores) => unknown; before: unknown; after: unknown }[] = [
  {
    name: 'health',
    change: () => (backend.health = report({ checked_at: '2025-01-15T10:05:00Z' })),
    shown: (s) => s.health.report?.checked_at,
    before: '2025-01-15T10:00:00Z',
    after: '2025-01-15T10:05:00Z',
  },
  {
    name: 'overview',
    change: () => (backend.overviewData = overview({ at: '2026-11-28T10:30:00Z' })),
    shown: (s) => s.overview.data?.at,
    before: overview().at,
    after: '2026-11-28T10:30:00Z',
  },
  {
    name: 'jobs',
    change: () => backend.jobs.push(job({ id: 2, name: 'added-meanwhile' })),
    shown: (s) => s.jobs.jobs.map((j) => j.name),
    before: ['cleanup'],
    after: ['cleanup', 'added-meanwhile'],
  },
  {
    name: 'ocr',
    change: () => backend.ocrRequests.push(ocrRequest({ id: 2, url: 'https://img.example.com/meanwhile.jpg' })),
    shown: (s) => s.ocr.requests.map((r) => r.id),
    before: [1],
    after: [2, 1],
  },
  {
    name: 'orders',
    change: () => (backend.orders = []),
    shown: (s) => s.orders.orders.rows.length,
    before: 1,
    after: 0,
  },
  {
    name: 'accounts',
    change: () => backend.users.push(userView({ id: 2, username: 'bob' })),
    shown: (s) => s.accounts.users.map((u) => u.username),
    before: ['alice'],
    after: ['alice', 'bob'],
  },
  {
    name: 'session',
    // The staff member's name changed while the events were lost (their session going on).
    change: () => (backend.session = staffMember({ name: 'Alice A. Admin' })),
    shown: (s) => s.session.staff?.name ?? null,
    before: 'Alice Admin',
    after: 'Alice A. Admin',
  },
  {
    name: 'sessions',
    change: () => backend.staffSessions.push(sessionView({ id: 3, user_id: 3, name: 'Carol' })),
    shown: (s) => s.sessions.sessions.map((x) => x.id),
    before: [1, 2],
    after: [1, 2, 3],
  },
]

async function started(): Promise<Stores> {
  const s = stores()
  await Promise.all(Object.values(s).map((store) => store.start()))
  await flushPromises()
  return s
}

beforeEach(() => {
  backend = new FakeBackend()
  backend.session = staffMember()
  backend.jobs = [job({ id: 1, name: 'cleanup' })]
  backend.ocrRequests = [ocrRequest({ id: 1 })]
  backend.orders = [order()]
  backend.users = [userView({ id: 1, username: 'alice' })]
})

describe('a resync', () => {
  for (const c of cases) {
    it(`makes the ${c.name} store reload what it shows`, async () => {
      const s = await started()
      expect(c.shown(s)).toEqual(c.before)
      c.change()
      // An ordinary event of another kind does not make it reload everything.
      backend.push({ kind: 'ocr_stats', stats: { ...(await backend.ocrStats()) } })
      await flushPromises()
      expect(c.shown(s)).toEqual(c.before)

      backend.push({ kind: 'resync' })
      await flushPromises()
      expect(c.shown(s)).toEqual(c.after)
    })
  }

  it('reaches every store after the link to the server comes back, and only then', async () => {
    backend.pushConnection(remoteConnection())
    const s = await started()
    for (const c of cases) c.change()

    // Still connected (a push that changes nothing of the link): nothing was lost.
    backend.pushLink({ state: 'connected' })
    await flushPromises()
    for (const c of cases) expect(c.shown(s), c.name).toEqual(c.before)

    backend.pushLink({ state: 'reconnecting', attempt: 1, retry_in_ms: 500, reason: 'connection refused' })
    backend.pushLink({ state: 'reconnecting', attempt: 2, retry_in_ms: 1000, reason: 'connection refused' })
    await flushPromises()
    for (const c of cases) expect(c.shown(s), c.name).toEqual(c.before)

    backend.pushLink({ state: 'connected' })
    await flushPromises()
    for (const c of cases) expect(c.shown(s), c.name).toEqual(c.after)
  })

  it('signs the console out when the session ended meanwhile', async () => {
    const s = await started()
    backend.session = null
    backend.push({ kind: 'resync' })
    await flushPromises()
    expect(s.session.staff).toBeNull()
  })

  it('is not heard by a stopped store', async () => {
    const s = await started()
    s.jobs.stop()
    backend.jobs.push(job({ id: 2, name: 'added-meanwhile' }))
    backend.push({ kind: 'resync' })
    await flushPromises()
    expect(s.jobs.jobs.map((j) => j.name)).toEqual(['cleanup'])
    expect(backend.callsTo('jobs_list')).toHaveLength(1)
  })
})

describe('the Audit page', () => {
  let wrapper: VueWrapper | undefined
  afterEach(() => {
    wrapper?.unmount()
    wrapper = undefined
  })

  it('loads the newest entries again on a resync, and stops listening when it goes away', async () => {
    const entry = (id: number) => ({
      id,
      at: '2026-01-10T01:00:00Z',
      who: 'alice',
      action: 'job.pause',
      target: `job:${id}`,
      detail: null,
    })
    let entries = [entry(1)]
    backend.audit = () => ({ entries, next_before_id: null })
    const { plugins } = backendPlugins(backend)
    wrapper = mount(AuditView, { global: { plugins } })
    await flushPromises()
    expect(wrapper.findAll('[data-testid="audit-row"]')).toHaveLength(1)

    entries = [entry(2), entry(1)]
    backend.push({ kind: 'resync' })
    await flushPromises()
    expect(wrapper.findAll('[data-testid="audit-row"]')).toHaveLength(2)
    expect(backend.auditCalls).toEqual([{ limit: 50 }, { limit: 50 }])

    wrapper.unmount()
    wrapper = undefined
    expect(backend.listenerCount).toBe(0)
    expect(backend.connectionListenerCount).toBe(0)
  })
})
