import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createMemoryHistory } from 'vue-router'
import App from '../App.vue'
import { applyLocale } from '../i18n'
import { createAppRouter } from '../router'
import { backendPlugins, connectionStatus, FakeBackend, remoteConnection } from './fakeBackend'

// The sign-in screen's choice of where the console works: this computer's embedded core or a
// server. The shell checks, remembers and restarts the app; a refusal shows from the catalogue.
let backend: FakeBackend
let wrapper: VueWrapper | undefined

async function mountApp() {
  const { plugins } = backendPlugins(backend)
  const router = createAppRouter(createMemoryHistory())
  await router.push('/')
  await router.isReady()
  wrapper = mount(App, { global: { plugins: [...plugins, router] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

const testid = (w: VueWrapper, id: string) => w.get(`[data-testid="${id}"]`)
const has = (w: VueWrapper, id: string) => w.find(`[data-testid="${id}"]`).exists()
const checked = (w: VueWrapper, id: string) => (testid(w, id).element as HTMLInputElement).checked
const connectEnabled = (w: VueWrapper) => testid(w, 'server-connect').attributes('disabled') === undefined

beforeEach(() => {
  backend = new FakeBackend()
  backend.session = null
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
})

describe('the server chooser', () => {
  it('shows the embedded core as the current choice, and connects to a server typed in', async () => {
    backend.connection = connectionStatus()
    const w = await mountApp()
    expect(testid(w, 'server-choice').text()).toContain('Where the console works')
    expect(testid(w, 'server-current').text()).toBe('Now working on this computer (embedded).')
    expect(testid(w, 'server-current').attributes('data-mode')).toBe('embedded')
    expect(checked(w, 'server-choice-embedded')).toBe(true)
    // This computer chosen: no address to type, nothing to connect to.
    expect(has(w, 'server-url')).toBe(false)
    expect(has(w, 'server-connect')).toBe(false)

    await testid(w, 'server-choice-remote').setValue(true)
    const field = testid(w, 'server-url')
    expect(w.get(`label[for="${field.attributes('id')}"]`).text()).toBe('Server address')
    expect(document.activeElement).toBe(field.element) // chosen to type it
    expect(connectEnabled(w)).toBe(false) // nothing typed yet
    await field.setValue('https://ops.example.com')
    expect(connectEnabled(w)).toBe(true)
    await testid(w, 'server-connect').trigger('click')
    await flushPromises()

    expect(backend.callsTo('server_choose')).toEqual([{ serverUrl: 'https://ops.example.com' }])
    expect(backend.restarts).toBe(1)
    expect(testid(w, 'server-restarting').text()).toBe('Restarting OpsDeck…')
    expect(has(w, 'error-banner')).toBe(false)
  })

  it('starts from the server in use, and goes back to this computer with null', async () => {
    backend.connection = remoteConnection({ server_url: 'https://ops.example.com:8443' })
    const w = await mountApp()
    expect(testid(w, 'server-current').text()).toBe('Now working against https://ops.example.com:8443.')
    expect(checked(w, 'server-choice-remote')).toBe(true)
    expect((testid(w, 'server-url').element as HTMLInputElement).value).toBe('https://ops.example.com:8443')
    // The same server, give or take a trailing slash, is no change.
    await testid(w, 'server-url').setValue('https://ops.example.com:8443/')
    expect(connectEnabled(w)).toBe(false)

    await testid(w, 'server-choice-embedded').setValue(true)
    expect(has(w, 'server-url')).toBe(false)
    expect(connectEnabled(w)).toBe(true) // back to this computer is a change
    await testid(w, 'server-connect').trigger('click')
    await flushPromises()
    expect(backend.callsTo('server_choose')).toEqual([{ serverUrl: null }])
    expect(has(w, 'server-restarting')).toBe(true)
  })

  it('shows the refusal from the catalogue, in the viewer’s language, and does not restart', async () => {
    backend.failures.server_choose = {
      code: 'invalid_input',
      message: 'plain http is refused except to a loopback address',
      field: 'server_url',
    }
    const w = await mountApp()
    await testid(w, 'server-choice-remote').setValue(true)
    await testid(w, 'server-url').setValue('http://ops.example.com')
    await testid(w, 'server-connect').trigger('click')
    await flushPromises()

    expect(backend.callsTo('server_choose')).toEqual([{ serverUrl: 'http://ops.example.com' }])
    expect(backend.restarts).toBe(0)
    const banner = testid(w, 'server-choice').get('[data-testid="error-banner"]')
    expect(banner.text()).toContain('Could not switch:')
    expect(banner.get('[data-testid="error-message"]').text()).toBe('The input was refused: check it and try again.')
    expect(has(w, 'server-restarting')).toBe(false)
    // The shell judges the address, not the web view's own check (it says nothing in WebKitGTK).
    expect(testid(w, 'server-choice').get('form').attributes('novalidate')).toBeDefined()
    // The form stays as typed, to correct and try again.
    expect((testid(w, 'server-url').element as HTMLInputElement).value).toBe('http://ops.example.com')
    expect(connectEnabled(w)).toBe(true)

    applyLocale('zh-CN')
    await flushPromises()
    expect(testid(w, 'server-choice').get('[data-testid="error-message"]').text()).toBe('输入的值无效。')
  })

  it('shows a server set by the configuration read-only', async () => {
    backend.connection = remoteConnection({ server_url: 'https://ops.example.com:8443', fixed_by_config: true })
    const w = await mountApp()
    expect(testid(w, 'server-fixed').text()).toBe('Server: https://ops.example.com:8443 (set by the configuration)')
    expect(testid(w, 'server-choice').text()).toContain('OPSDECK_SERVER_URL')
    expect(has(w, 'server-url')).toBe(false)
    expect(has(w, 'server-connect')).toBe(false)
  })

  it('is offered even when the core cannot say who is signed in (another server may answer)', async () => {
    backend.connection = remoteConnection()
    backend.failures.auth_session = { code: 'internal', message: 'the server did not answer' }
    const w = await mountApp()
    expect(testid(w, 'signin-screen').get('[data-testid="error-banner"]').text()).toContain('Could not check who is signed in:')
    expect(has(w, 'server-url')).toBe(true)
  })

  it('says so when the shell cannot tell where the console works', async () => {
    backend.connection = { reject: { code: 'internal', message: 'no connection state' } }
    const w = await mountApp()
    expect(testid(w, 'server-choice').text()).toContain('Could not tell where the console works:')
    expect(has(w, 'server-url')).toBe(false)
  })
})
