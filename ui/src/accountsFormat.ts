// Words of the sign-in screen and the Accounts view. Words come from the global i18n instance.
import type { ProviderInfo, ProviderKey, Role } from './backend'
import { t } from './i18n'

export const PROVIDER_KEYS: readonly ProviderKey[] = ['weibo', 'qq', 'wechat', 'dingtalk', 'oidc']

/** The roles a user can be given, least first. */
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin']

/**
 * The provider's display name. The four Chinese providers have fixed names, in the active
 * language (Weibo, 微博, …); an OpenID Connect provider has its configured name (e.g. Keycloak),
 * else "OpenID Connect".
 */
export function providerName(key: ProviderKey, providers: readonly ProviderInfo[] = []): string {
  if (key !== 'oidc' && (PROVIDER_KEYS as readonly string[]).includes(key)) return t(`providers.${key}`)
  return providers.find((p) => p.key === key)?.name || (key === 'oidc' ? t('providers.oidc') : key)
}

/** A console role in words; "—" for none. */
export function roleWord(role: Role | null): string {
  return role ? t(`roles.${role}`) : '—'
}

/** A letter standing in for a missing avatar: "alice" → "A", "张三" → "张". */
export function initial(name: string): string {
  const first = [...name.trim()][0]
  return first ? first.toUpperCase() : '?'
}
