import { beforeEach, describe, expect, it } from 'vitest'
import { createApp } from 'vue'
import { createPinia } from 'pinia'
import { flushPromises } from '@vue/test-utils'
import { provideBackend } from '../backend'
import { useSessionStore } from '../stores/session'
import { FakeBackend, staffMember } from './fakeBackend'

let backend: FakeBackend

function store() {
  const app = createApp({ render: () => null })
  provideBackend(app, backend)
  app.use(createPinia())
  return useSessionStore()
}

beforeEach(() => {
  backend = new FakeBackend()
})

describe('Session store', () => {
  it('lets admins do everything', async () => {
    const session = store()
    await session.load()
    expect(session.role).toBe('admin')
    expect(session.canOperate).toBe(true)
    expect(session.isAdmin).toBe(true)
    expect(session.cannot('cancelOrders')).toBeNull()
    expect(session.cannot('changeRoles', 'admin')).toBeNull()
  })

  it('lets operators act but not manage roles', async () => {
    backend.session = staffMember({ role: 'operator' })
    const session = store()
    await session.load()
    expect(session.canOperate).toBe(true)
    expect(session.isAdmin).toBe(false)
    expect(session.cannot('cancelOrders')).toBeNull()
    expect(session.cannot('changeRoles', 'admin')).toBe('Your role (operator) cannot change roles')
  })

  it('lets viewers only look, and says why', async () => {
    backend.session = staffMember({ role: 'viewer' })
    const session = store()
    await session.load()
    expect(session.canOperate).toBe(false)
    expect(session.isAdmin).toBe(false)
    expect(session.cannot('cancelOrders')).toBe('Your role (viewer) cannot cancel orders')
    expect(session.cannot('changeRoles', 'admin')).toBe('Your role (viewer) cannot change roles')
  })

  it('asks the core who is signed in again when a command is refused for who is asking', async () => {
    backend.session = staffMember({ role: 'operator' })
    const session = store()
    await session.start()
    expect(session.role).toBe('operator')
    expect(backend.callsTo('auth_session')).toHaveLength(1)

    // An admin made them a viewer meanwhile: the next action is refused, and the buttons follow.
    backend.session = staffMember({ role: 'viewer' })
    await expect(backend.ocrPause()).rejects.toMatchObject({ code: 'forbidden' })
    await flushPromises()
    expect(backend.callsTo('auth_session')).toHaveLength(2)
    expect(session.role).toBe('viewer')

    // Then removed the role (the shell ends the session): the console shows the sign-in screen.
    backend.session = null
    await expect(backend.ocrPause()).rejects.toMatchObject({ code: 'unauthenticated' })
    await flushPromises()
    expect(session.staff).toBeNull()

    // Stopped: no more asking.
    session.stop()
    await expect(backend.ocrPause()).rejects.toMatchObject({ code: 'unauthenticated' })
    await flushPromises()
    expect(backend.callsTo('auth_session')).toHaveLength(3)
  })

  it('allows nothing before anyone signs in', async () => {
    backend.session = null
    const session = store()
    expect(session.canOperate).toBe(false)
    await session.load()
    expect(session.loaded).toBe(true)
    expect(session.staff).toBeNull()
    expect(session.role).toBeNull()
    expect(session.cannot('cancelOrders')).toBe('Sign in first to cancel orders')
  })

  it('reads the session once unless forced', async () => {
    const session = store()
    await Promise.all([session.load(), session.load()])
    await session.load()
    expect(backend.callsTo('auth_session')).toHaveLength(1)
    await session.load(true)
    expect(backend.callsTo('auth_session')).toHaveLength(2)
  })

  it('follows session_changed, and a pushed session beats an older fetch', async () => {
    const session = store()
    await session.start()
    await flushPromises()
    expect(session.isAdmin).toBe(true)

    backend.push({ kind: 'session_changed', staff: staffMember({ role: 'viewer' }) })
    expect(session.role).toBe('viewer')
    expect(session.canOperate).toBe(false)

    const reading = session.load(true) // the core still answers "admin"
    backend.push({ kind: 'session_changed', staff: null })
    await reading
    expect(session.staff).toBeNull()
    session.stop()
    expect(backend.listenerCount).toBe(0)
    expect(backend.signInListenerCount).toBe(0)
  })

  it('ignores sign-in results while signed in (they belong to link windows)', async () => {
    const session = store()
    await session.start()
    await flushPromises()
    backend.pushSignIn({ status: 'error', error: { code: 'provider_error', message: 'nope' } })
    expect(session.notice).toBeNull()
    expect(session.staff?.name).toBe('Alice Admin')
  })

  it('keeps the outcome of a sign-in and clears it with the next attempt', async () => {
    backend.session = null
    const session = store()
    await session.start()
    await flushPromises()
    await session.signIn('qq')
    expect(session.signingIn).toBe('qq')
    backend.pushSignIn({ status: 'not_staff', user_id: 7, name: 'carol' })
    expect(session.signingIn).toBeNull()
    expect(session.notice).toEqual({ status: 'not_staff', user_id: 7, name: 'carol' })
    await session.signIn('qq')
    expect(session.notice).toBeNull()
    backend.pushSignIn({ status: 'signed_in', staff: staffMember({ role: 'viewer' }) })
    expect(session.role).toBe('viewer')
    expect(session.signingIn).toBeNull()
  })
})
