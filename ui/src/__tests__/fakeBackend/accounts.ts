// The fake sign-in and accounts commands, and builders of what they answer.
import type {
  LinkRequest,
  LinkView,
  ProviderInfo,
  ProviderKey,
  Role,
  SignInResult,
  Staff,
  UserPage,
  UserQuery,
  UserView,
} from '../../backend'
import { clone } from './core'
import { FakeOrders } from './orders'

type SignInListener = (r: SignInResult) => void

/** Sign-in and accounts: providers, the session, the sign-in window, users, links and link requests. */
export class FakeAccounts extends FakeOrders {
  providers: ProviderInfo[] = PROVIDER_KEYS.map((key) => providerInfo({ key }))
  /** The users; the account actions change them as the core would. */
  users: UserView[] = []
  linkRequests: LinkRequest[] = []
  /** The sign-in window the console opened (by signIn or linkStart); null when none is open. */
  signInWindow: { provider: ProviderKey; userId: number | null } | null = null

  private readonly signInListeners = new Set<SignInListener>()

  get signInListenerCount(): number {
    return this.signInListeners.size
  }

  /** Delivers a sign-in window's outcome to every current subscriber, as the core would. */
  pushSignIn(r: SignInResult): void {
    if (r.status === 'signed_in') this.session = clone(r.staff)
    this.signInWindow = null
    for (const l of [...this.signInListeners]) l(r)
  }

  private user(id: number): UserView {
    const user = this.users.find((u) => u.id === id)
    if (!user) throw { code: 'user_not_found', message: `no user ${id}`, params: { id: String(id) } }
    return user
  }

  async authProviders(): Promise<ProviderInfo[]> {
    this.record('auth_providers')
    return clone(this.providers)
  }

  async authSession(): Promise<Staff | null> {
    this.record('auth_session')
    return clone(this.session)
  }

  async signIn(provider: ProviderKey): Promise<void> {
    this.record('sign_in', { provider })
    this.signInWindow = { provider, userId: null }
  }

  /** Closes the window; the core then reports the sign-in cancelled. */
  async signInCancel(): Promise<void> {
    this.record('sign_in_cancel')
    if (this.signInWindow) this.pushSignIn({ status: 'cancelled' })
  }

  async signOut(): Promise<void> {
    this.record('sign_out')
    this.session = null
  }

  async usersList(q: UserQuery): Promise<UserPage> {
    this.record('users_list', { query: q })
    const search = q.search ?? ''
    const matching = this.users
      .filter((u) => search === '' || u.username.includes(search) || (u.mobile_masked ?? '').includes(search))
      .sort((a, b) => a.id - b.id)
    return { users: clone(matching.slice(q.offset, q.offset + q.limit)), total: matching.length }
  }

  async linkStart(userId: number, provider: ProviderKey): Promise<void> {
    this.record('link_start', { userId, provider })
    this.user(userId)
    this.signInWindow = { provider, userId }
  }

  async unlink(linkId: number): Promise<UserView> {
    this.record('unlink', { linkId })
    const user = this.users.find((u) => u.links.some((l) => l.id === linkId))
    if (!user) throw { code: 'link_not_found', message: `no linked sign-in ${linkId}`, params: { id: String(linkId) } }
    if (user.links.length === 1) {
      throw { code: 'link_last', message: `${user.username}'s last sign-in method cannot be unlinked` }
    }
    user.links = user.links.filter((l) => l.id !== linkId)
    return clone(user)
  }

  async staffSetRole(userId: number, role: Role | null): Promise<UserView> {
    this.record('staff_set_role', { userId, role })
    const user = this.user(userId)
    user.role = role
    if (this.session?.user_id === userId) this.session = role === null ? null : { ...this.session, role }
    return clone(user)
  }

  async linkRequestsList(): Promise<LinkRequest[]> {
    this.record('link_requests_list')
    return clone(this.linkRequests)
  }

  async linkRequestResolve(id: number, accept: boolean): Promise<UserView | null> {
    this.record('link_request_resolve', { id, accept })
    const request = this.linkRequests.find((r) => r.id === id)
    if (!request) throw { code: 'link_request_not_found', message: `no link request ${id}`, params: { id: String(id) } }
    this.linkRequests = this.linkRequests.filter((r) => r !== request)
    if (!accept) return null
    const user = this.user(request.user_id)
    const linkId = Math.max(0, ...this.users.flatMap((u) => u.links.map((l) => l.id))) + 1
    user.links.push(
      linkView({
        id: linkId,
        provider: request.provider,
        uid_masked: request.uid_masked,
        nickname: request.nickname,
        linked_at: new Date().toISOString(),
        last_sign_in_at: null,
      }),
    )
    return clone(user)
  }

  async onSignInResult(cb: SignInListener): Promise<() => void> {
    this.signInListeners.add(cb)
    return () => {
      this.signInListeners.delete(cb)
    }
  }
}

export const PROVIDER_KEYS: readonly ProviderKey[] = ['weibo', 'qq', 'wechat', 'dingtalk', 'oidc']

const PROVIDER_NAMES: Record<ProviderKey, string> = {
  weibo: 'Weibo',
  qq: 'QQ',
  wechat: 'WeChat',
  dingtalk: 'DingTalk',
  oidc: 'Keycloak',
}

export function providerInfo(overrides: Partial<ProviderInfo> = {}): ProviderInfo {
  const key = overrides.key ?? 'weibo'
  return { key, name: PROVIDER_NAMES[key], sandbox: true, ...overrides }
}

export function linkView(overrides: Partial<LinkView> = {}): LinkView {
  return {
    id: 1,
    provider: 'weibo',
    uid_masked: '18****42',
    nickname: 'alice_wb',
    avatar: null,
    linked_at: '2026-01-05T08:00:00Z',
    last_sign_in_at: '2026-01-10T01:00:00Z',
    ...overrides,
  }
}

export function userView(overrides: Partial<UserView> = {}): UserView {
  return {
    id: 1,
    username: 'alice',
    nickname: 'Alice',
    mobile_masked: '138****0001',
    avatar: null,
    role: 'admin',
    created_at: '2026-01-05T08:00:00Z',
    last_sign_in_at: '2026-01-10T01:00:00Z',
    links: [linkView()],
    ...overrides,
  }
}

export function linkRequest(overrides: Partial<LinkRequest> = {}): LinkRequest {
  return {
    id: 1,
    user_id: 2,
    username: 'bob',
    provider: 'qq',
    uid_masked: 'B7****1C',
    nickname: 'bob_qq',
    mobile_masked: '139****0002',
    verified: ['mobile'],
    created_at: '2026-01-10T01:30:00Z',
    ...overrides,
  }
}

