import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createMemoryHistory } from 'vue-router'
import App from '../App.vue'
import { applyLocale, LOCALE_STORAGE_KEY } from '../i18n'
import { createAppRouter } from '../router'
import { backendPlugins, FakeBackend, linkRequest, providerInfo, staffMember } from './fakeBackend'

// The sign-in gate: until the core says a staff member is signed in, the window shows only the
// sign-in screen (and the status bar).
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

beforeEach(() => {
  backend = new FakeBackend()
  backend.session = null
  backend.providers = [
    providerInfo({ key: 'weibo' }),
    providerInfo({ key: 'wechat' }),
    providerInfo({ key: 'oidc', name: 'Keycloak' }),
  ]
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
})

describe('sign-in gate', () => {
  it('shows only the sign-in screen, a button per configured provider, the sandbox note and the status bar', async () => {
    const w = await mountApp()
    expect(has(w, 'signin-screen')).toBe(true)
    expect(w.text()).toContain('Sign in to OpsDeck')
    expect(has(w, 'nav-overview')).toBe(false)
    expect(has(w, 'page-title')).toBe(false)
    expect(has(w, 'status-database')).toBe(true)

    expect(testid(w, 'signin-weibo').text()).toBe('Sign in with Weibo')
    expect(testid(w, 'signin-wechat').text()).toBe('Sign in with WeChat')
    expect(testid(w, 'signin-oidc').text()).toBe('Sign in with Keycloak')
    expect(has(w, 'signin-qq')).toBe(false)
    expect(testid(w, 'signin-weibo').get('[data-testid="provider-icon"]').attributes('data-provider')).toBe('weibo')
    expect(testid(w, 'signin-sandbox').text()).toBe("Sandbox: these sign-in pages are OpsDeck's built-in fakes.")
  })

  it('has no sandbox note when the providers are real', async () => {
    backend.providers = [providerInfo({ key: 'dingtalk', sandbox: false })]
    const w = await mountApp()
    expect(has(w, 'signin-dingtalk')).toBe(true)
    expect(has(w, 'signin-sandbox')).toBe(false)
  })

  it('opens the sign-in window, waits, and goes back to the buttons quietly when cancelled', async () => {
    const w = await mountApp()
    await testid(w, 'signin-wechat').trigger('click')
    await flushPromises()
    expect(backend.callsTo('sign_in')).toEqual([{ provider: 'wechat' }])
    expect(testid(w, 'signin-waiting').text()).toContain('Waiting for the sign-in window…')
    expect(has(w, 'signin-wechat')).toBe(false)

    await testid(w, 'signin-cancel').trigger('click')
    await flushPromises()
    expect(backend.callsTo('sign_in_cancel')).toHaveLength(1)
    expect(has(w, 'signin-waiting')).toBe(false)
    expect(has(w, 'signin-wechat')).toBe(true)
    expect(has(w, 'error-banner')).toBe(false)
    expect(has(w, 'signin-message')).toBe(false)
  })

  it('shows the console with the staff member once signed in, and the sign-in screen again after signing out', async () => {
    const w = await mountApp()
    await testid(w, 'signin-weibo').trigger('click')
    await flushPromises()
    backend.pushSignIn({ status: 'signed_in', staff: staffMember({ name: 'Olga Operator', role: 'operator', provider: 'weibo' }) })
    await flushPromises()

    expect(has(w, 'signin-screen')).toBe(false)
    expect(testid(w, 'page-title').text()).toBe('Overview')
    expect(testid(w, 'staff-name').text()).toBe('Olga Operator')
    expect(testid(w, 'staff-role').text()).toBe('operator')
    expect(testid(w, 'staff-provider').attributes('data-provider')).toBe('weibo')
    expect(testid(w, 'staff-provider').text()).toBe('Weibo')

    await testid(w, 'sign-out').trigger('click')
    await flushPromises()
    expect(backend.callsTo('sign_out')).toHaveLength(1)
    expect(has(w, 'signin-screen')).toBe(true)
    expect(has(w, 'staff-name')).toBe(false)
  })

  it('shows an error the sign-in ended with, and the buttons again', async () => {
    const w = await mountApp()
    await testid(w, 'signin-weibo').trigger('click')
    backend.pushSignIn({ status: 'error', error: { code: 'sign_in_refused', message: 'Weibo refused the sign-in: (error invalid_grant)', params: { provider: 'weibo' } } })
    await flushPromises()
    expect(testid(w, 'error-banner').text()).toContain('Could not sign in:')
    expect(testid(w, 'error-message').text()).toBe('The sign-in was refused at Weibo: start again.')
    expect(has(w, 'signin-weibo')).toBe(true)
    expect(has(w, 'signin-waiting')).toBe(false)

    // The next attempt clears it.
    await testid(w, 'signin-weibo').trigger('click')
    await flushPromises()
    expect(has(w, 'error-banner')).toBe(false)
  })

  it('shows the error when the window cannot be opened', async () => {
    backend.failures.sign_in = { code: 'provider_not_configured', message: 'WeChat sign-in is not configured', params: { provider: 'wechat' } }
    const w = await mountApp()
    await testid(w, 'signin-wechat').trigger('click')
    await flushPromises()
    expect(testid(w, 'error-message').text()).toBe('WeChat sign-in is not configured.')
    expect(has(w, 'signin-waiting')).toBe(false)
  })

  it('says a user without a console role needs an admin to grant one', async () => {
    const w = await mountApp()
    await testid(w, 'signin-oidc').trigger('click')
    backend.pushSignIn({ status: 'not_staff', user_id: 42, name: 'carol' })
    await flushPromises()
    const message = testid(w, 'signin-message')
    expect(message.attributes('data-status')).toBe('not_staff')
    expect(message.text()).toContain(
      'Signed in as carol (user #42), but you have no console role yet; an admin must grant one.',
    )
    expect(testid(w, 'signin-grant-hint').text()).toBe(
      'On a new installation, the first admin is made on the server with opsdeckd staff grant-admin --user-id 42.',
    )
    expect(has(w, 'nav-overview')).toBe(false)
  })

  it('says so in Chinese, the command left as it is', async () => {
    localStorage.setItem(LOCALE_STORAGE_KEY, 'zh-CN')
    try {
      const w = await mountApp()
      await testid(w, 'signin-oidc').trigger('click')
      backend.pushSignIn({ status: 'not_staff', user_id: 42, name: 'carol' })
      await flushPromises()
      expect(testid(w, 'signin-message').text()).toContain('已作为 carol（用户 #42）登录，但你还没有控制台角色，需由管理员授予。')
      expect(testid(w, 'signin-grant-hint').text()).toBe(
        '新安装时，第一个管理员需在服务器上用 opsdeckd staff grant-admin --user-id 42 设置。',
      )
    } finally {
      localStorage.removeItem(LOCALE_STORAGE_KEY)
      applyLocale('en')
    }
  })

  it('says a login matching an existing user by mobile waits for staff to confirm the link', async () => {
    const w = await mountApp()
    await testid(w, 'signin-weibo').trigger('click')
    backend.pushSignIn({ status: 'pending_link', request: linkRequest({ provider: 'weibo', username: 'bob', mobile_masked: '139****0002' }) })
    await flushPromises()
    const message = testid(w, 'signin-message')
    expect(message.attributes('data-status')).toBe('pending_link')
    expect(message.text()).toContain('139****0002')
    expect(message.text()).toContain('staff must confirm the link')
  })

  it('follows session changes the core pushes: a new role, then signed out', async () => {
    backend.session = staffMember()
    const w = await mountApp()
    expect(testid(w, 'staff-role').text()).toBe('admin')
    backend.push({ kind: 'session_changed', staff: staffMember({ role: 'viewer' }) })
    await flushPromises()
    expect(testid(w, 'staff-role').text()).toBe('viewer')
    backend.push({ kind: 'session_changed', staff: null })
    await flushPromises()
    expect(has(w, 'signin-screen')).toBe(true)
  })

  it('offers a retry when the session cannot be read', async () => {
    backend.failures.auth_session = { code: 'database_unavailable', message: 'database is down' }
    const w = await mountApp()
    expect(testid(w, 'error-message').text()).toBe('The database is not reachable.')
    expect(has(w, 'signin-weibo')).toBe(false)
    delete backend.failures.auth_session
    backend.session = staffMember()
    await testid(w, 'error-retry').trigger('click')
    await flushPromises()
    expect(testid(w, 'staff-name').text()).toBe('Alice Admin')
  })
})
