import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createMemoryHistory, type Router } from 'vue-router'
import App from '../App.vue'
import { i18n } from '../i18n'
import { createAppRouter, routes } from '../router'
import { appInfo, backendPlugins, FakeBackend } from './fakeBackend'

// The end-to-end tests rely on these exact hooks and texts.
const PAGES = [
  { path: '/', nav: 'nav-overview', title: 'Overview' },
  { path: '/jobs', nav: 'nav-jobs', title: 'Jobs' },
  { path: '/ocr', nav: 'nav-ocr', title: 'OCR queue' },
  { path: '/orders', nav: 'nav-orders', title: 'Orders' },
  { path: '/accounts', nav: 'nav-accounts', title: 'Accounts' },
  { path: '/audit', nav: 'nav-audit', title: 'Audit' },
  { path: '/settings', nav: 'nav-settings', title: 'Settings' },
] as const

let backend: FakeBackend
let router: Router
let wrapper: VueWrapper | undefined

async function mountApp(path = '/') {
  const { plugins } = backendPlugins(backend)
  router = createAppRouter(createMemoryHistory())
  await router.push(path)
  await router.isReady()
  // The OCR page's chart draws on a canvas, which jsdom lacks.
  wrapper = mount(App, { global: { plugins: [...plugins, router], stubs: { OcrCallsChart: true } } })
  await flushPromises()
  return wrapper
}

const title = (w: VueWrapper) => w.get('[data-testid="page-title"]').text()

beforeEach(() => {
  backend = new FakeBackend()
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
})

describe('console frame', () => {
  it('shows the product name, every nav link and the status bar', async () => {
    const w = await mountApp()
    expect(w.text()).toContain('OpsDeck')
    for (const page of PAGES) {
      const link = w.get(`[data-testid="${page.nav}"]`)
      expect(link.text()).toBe(page.title)
      expect(link.attributes('href')).toContain(page.path)
    }
    expect(w.find('[data-testid="status-database"]').exists()).toBe(true)
    expect(w.find('[data-testid="status-redis"]').exists()).toBe(true)
  })

  it('says on every page when it runs in sandbox mode, and not otherwise', async () => {
    const w = await mountApp()
    expect(w.find('[data-testid="app-sandbox"]').exists()).toBe(false)
    w.unmount()
    backend = new FakeBackend()
    backend.info = appInfo({ sandbox: true })
    const s = await mountApp('/jobs')
    expect(s.get('[data-testid="app-sandbox"]').text()).toContain('Sandbox mode')
  })

  it('navigates to Jobs when its nav link is clicked', async () => {
    const w = await mountApp()
    expect(title(w)).toBe('Overview')
    const push = vi.spyOn(router, 'push')

    await w.get('[data-testid="nav-jobs"]').trigger('click')
    expect(push).toHaveBeenCalledTimes(1)
    await push.mock.results[0]?.value
    await flushPromises()

    expect(router.currentRoute.value.path).toBe('/jobs')
    expect(title(w)).toBe('Jobs')
    expect(w.get('[data-testid="nav-jobs"]').classes()).toContain('router-link-active')
    expect(w.get('[data-testid="nav-overview"]').classes()).not.toContain('router-link-active')
  })

  it.each(PAGES)('route $path has the title "$title"', async ({ path, title: expected }) => {
    const w = await mountApp(path)
    expect(title(w)).toBe(expected)
    expect(i18n.global.t(router.currentRoute.value.meta.titleKey ?? '')).toBe(expected)
    expect(document.title).toBe(`${expected} · OpsDeck`)
  })

  it('has no routed page without a title, and sends unknown paths to Overview', async () => {
    const titled = routes.filter((r) => !('redirect' in r && r.redirect))
    expect(titled.map((r) => r.path).sort()).toEqual(PAGES.map((p) => p.path).sort())
    const w = await mountApp('/no/such/page')
    expect(router.currentRoute.value.path).toBe('/')
    expect(title(w)).toBe('Overview')
  })

  it('starts live health and the session on mount and stops them on unmount', async () => {
    // On a page that subscribes to nothing itself (the Overview page follows core events too).
    const w = await mountApp('/settings')
    // Health and the session each listen to core events; the session also to sign-in results.
    expect(backend.listenerCount).toBe(2)
    expect(backend.signInListenerCount).toBe(1)
    expect(w.get('[data-testid="status-database"]').attributes('data-status')).toBe('ok')
    w.unmount()
    wrapper = undefined
    expect(backend.listenerCount).toBe(0)
    expect(backend.signInListenerCount).toBe(0)
    expect(backend.unlistenCalls).toBe(2)
  })
})
