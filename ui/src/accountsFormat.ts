// Words of the sign-in screen and the Accounts view.
import type { ProviderInfo, ProviderKey, Role } from './backend'

export const PROVIDER_KEYS: readonly ProviderKey[] = ['weibo', 'qq', 'wechat', 'dingtalk', 'oidc']

/** The roles a user can be given, least first. */
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin']

const PROVIDER_WORDS: Record<ProviderKey, string> = {
  weibo: 'Weibo',
  qq: 'QQ',
  wechat: 'WeChat',
  dingtalk: 'DingTalk',
  oidc: 'OpenID Connect',
}

/** The provider's display name: the configured one (an OIDC provider's own), else the usual one. */
export function providerName(key: ProviderKey, providers: readonly ProviderInfo[] = []): string {
  return providers.find((p) => p.key === key)?.name || PROVIDER_WORDS[key] || key
}

export function roleWord(role: Role | null): string {
  return role ?? '—'
}

/** A letter standing in for a missing avatar: "alice" → "A", "张三" → "张". */
export function initial(name: string): string {
  const first = [...name.trim()][0]
  return first ? first.toUpperCase() : '?'
}
