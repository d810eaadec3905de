import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import App from '../App.vue'
import Notices from '../components/Notices.vue'
import { applyLocale } from '../i18n'
import { createAppRouter } from '../router'
import { useSessionStore } from '../stores/session'
import { backendPlugins, FakeBackend } from './fakeBackend'
import { MAX_NOTICES, SUCCESS_MS, useNoticesStore } from '../stores/notices'

const Blank = { render: () => null }

let pinia: Pinia
let router: Router
let wrapper: VueWrapper | undefined

async function mountNotices(): Promise<VueWrapper> {
  router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'overview', component: Blank },
      { path: '/jobs', name: 'jobs', component: Blank },
    ],
  })
  await router.push('/')
  await router.isReady()
  wrapper = mount(Notices, { global: { plugins: [pinia, router] } })
  return wrapper
}

const shown = (w: VueWrapper) => w.findAll('[data-testid="notice"]')

beforeEach(() => {
  vi.useFakeTimers()
  pinia = createPinia()
  setActivePinia(pinia)
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
  vi.useRealTimers()
})

describe('a success notice', () => {
  it('says the outcome politely and goes after its time', async () => {
    const w = await mountNotices()
    useNoticesStore().success('Paused cleanup.')
    await flushPromises()

    const notice = w.get('[data-testid="notice"]')
    expect(notice.text()).toContain('Paused cleanup.')
    expect(notice.attributes('role')).toBe('status')
    expect(notice.attributes('aria-live')).toBe('polite')
    expect(notice.attributes('data-kind')).toBe('success')

    vi.advanceTimersByTime(SUCCESS_MS - 1)
    await flushPromises()
    expect(shown(w)).toHaveLength(1)
    vi.advanceTimersByTime(1)
    await flushPromises()
    expect(shown(w)).toHaveLength(0)
  })

  it('is not held by a pointer at rest under the place it appears (the button just clicked)', async () => {
    const w = await mountNotices()
    useNoticesStore().success('Retried 1 request.')
    await flushPromises()
    // WebKit sends mouseenter when an element appears under a still pointer: not a hover.
    await w.get('[data-testid="notice"]').trigger('mouseenter')
    vi.advanceTimersByTime(SUCCESS_MS)
    await flushPromises()
    expect(shown(w)).toHaveLength(0)
  })

  it('stays while hovered or focused, then goes after what was left of its time', async () => {
    const w = await mountNotices()
    useNoticesStore().success('Resumed cleanup.')
    await flushPromises()

    vi.advanceTimersByTime(2000)
    await w.get('[data-testid="notice"]').trigger('mousemove')
    vi.advanceTimersByTime(SUCCESS_MS * 10)
    await flushPromises()
    expect(shown(w)).toHaveLength(1)

    await w.get('[data-testid="notice"]').trigger('mouseleave')
    vi.advanceTimersByTime(SUCCESS_MS - 2000 - 1)
    await flushPromises()
    expect(shown(w)).toHaveLength(1)

    // Keyboard focus on its link or close button holds it the same way.
    await w.get('[data-testid="notice"]').trigger('focusin')
    vi.advanceTimersByTime(SUCCESS_MS)
    await flushPromises()
    expect(shown(w)).toHaveLength(1)
    await w.get('[data-testid="notice"]').trigger('focusout')
    vi.advanceTimersByTime(1)
    await flushPromises()
    expect(shown(w)).toHaveLength(0)
  })

  it('links to the effect of the action: following the link navigates and closes the notice', async () => {
    const w = await mountNotices()
    useNoticesStore().success('Started a run of cleanup.', {
      link: { to: { name: 'jobs', query: { job: '7' } }, label: 'View run' },
    })
    await flushPromises()

    const link = w.get('[data-testid="notice-link"]')
    expect(link.text()).toBe('View run')
    expect(link.attributes('href')).toBe('/jobs?job=7')
    await link.trigger('click')
    await flushPromises()

    expect(router.currentRoute.value.fullPath).toBe('/jobs?job=7')
    expect(shown(w)).toHaveLength(0)
  })
})

describe('an error notice', () => {
  it('interrupts, says what failed and why, and stays until dismissed', async () => {
    const w = await mountNotices()
    useNoticesStore().failure(
      'Could not pause cleanup',
      { code: 'forbidden', message: 'operator role required', params: { role: 'viewer', action: 'pause jobs' } },
    )
    await flushPromises()

    const notice = w.get('[data-testid="notice"]')
    expect(notice.attributes('role')).toBe('alert')
    expect(notice.attributes('data-code')).toBe('forbidden')
    expect(w.get('[data-testid="notice-title"]').text()).toBe('Could not pause cleanup')
    // The error's sentence from the catalogue, the code on hover.
    const text = w.get('[data-testid="notice-text"]')
    expect(text.text()).toBe('Your role (viewer) cannot pause jobs.')
    expect(text.attributes('title')).toBe('Error code: forbidden')

    vi.advanceTimersByTime(SUCCESS_MS * 100)
    await flushPromises()
    expect(shown(w)).toHaveLength(1)

    await w.get('[data-testid="notice-dismiss"]').trigger('click')
    expect(shown(w)).toHaveLength(0)
  })

  it('is replaced by the next outcome of the same action', async () => {
    const w = await mountNotices()
    const notices = useNoticesStore()
    notices.failure('Could not start cleanup', new Error('boom'), { key: 'job.run:7' })
    notices.success('Paused backup.', { key: 'job.pause:8' })
    notices.success('Started a run of cleanup.', { key: 'job.run:7' })
    await flushPromises()

    expect(shown(w).map((n) => n.attributes('data-kind'))).toEqual(['success', 'success'])
    expect(w.text()).not.toContain('Could not start cleanup')
  })
})

describe('the stack', () => {
  it(`keeps at most ${MAX_NOTICES}, dropping the oldest success before any error`, async () => {
    const w = await mountNotices()
    const notices = useNoticesStore()
    notices.failure('Could not cancel OD1', new Error('first'))
    for (let i = 1; i <= MAX_NOTICES + 1; i++) notices.success(`Done ${i}.`)
    await flushPromises()

    const texts = shown(w).map((n) => n.text())
    expect(texts).toHaveLength(MAX_NOTICES)
    expect(texts[0]).toContain('Could not cancel OD1')
    expect(texts[texts.length - 1]).toContain(`Done ${MAX_NOTICES + 1}.`)
    expect(texts.join()).not.toContain('Done 1.')
  })

  it('names itself and its close buttons in the viewer’s language', async () => {
    applyLocale('zh-CN')
    const w = await mountNotices()
    useNoticesStore().success('已暂停 cleanup。')
    await flushPromises()
    expect(w.get('[data-testid="notices"]').attributes('aria-label')).toBe('通知')
    expect(w.get('[data-testid="notice-dismiss"]').attributes('aria-label')).toBe('关闭')
  })
})

describe('in the console', () => {
  it('shows over every page, and what one staff member did is not shown to the next', async () => {
    vi.useRealTimers() // the app's own start-up (health checks, the session) runs as usual
    const backend = new FakeBackend()
    const { plugins, pinia: appPinia } = backendPlugins(backend)
    const appRouter = createAppRouter(createMemoryHistory())
    await appRouter.push('/settings')
    await appRouter.isReady()
    wrapper = mount(App, { global: { plugins: [...plugins, appRouter], stubs: { OcrCallsChart: true } } })
    await flushPromises()
    const notices = useNoticesStore(appPinia)
    notices.failure('Could not pause cleanup', { code: 'database_unavailable', message: 'locked' })
    await flushPromises()
    expect(wrapper.findAll('[data-testid="notice"]')).toHaveLength(1)

    await useSessionStore(appPinia).signOut()
    await flushPromises()
    expect(notices.notices).toEqual([])
    expect(wrapper.find('[data-testid="notice"]').exists()).toBe(false)
  })
})
