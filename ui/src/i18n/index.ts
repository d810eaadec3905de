// The console's languages: English and simplified Chinese, with vue-i18n in Composition API mode.
//
// Components get `t` from `useI18n()` (the global composer: there are no per-component
// messages). Plain helpers (the *Format.ts modules, jobForm.ts, the session store's `cannot`) use
// the global instance through `t()` below; called while a component renders, they re-render
// with it when the language changes.
//
// Messages: ./en.ts and ./zh-CN.ts (same keys; zh-CN.ts is typed against en.ts), plus the
// Overview page's ./overview.ts (`{ en, 'zh-CN' }`) under the top-level key `overview`.
//
// vue-i18n 10+ compiles messages to an AST and interprets it (no `new Function`), which the
// app's CSP (`script-src 'self'`, no 'unsafe-eval') requires.
import { createI18n } from 'vue-i18n'
import en from './en'
import overview from './overview'
import zhCN from './zh-CN'

export const LOCALES = ['en', 'zh-CN'] as const
export type Locale = (typeof LOCALES)[number]
/** What staff choose in Settings: a language, or `auto` (follow the OS). */
export type LocalePreference = 'auto' | Locale
export const LOCALE_PREFERENCES: readonly LocalePreference[] = ['auto', ...LOCALES]

/** Where the preference is kept. */
export const LOCALE_STORAGE_KEY = 'opsdeck.locale'

/** Each language's name in itself (the Settings select shows these whatever the UI language). */
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', 'zh-CN': '中文（简体）' }

export const messages = {
  en: { ...en, overview: overview.en },
  'zh-CN': { ...zhCN, overview: overview['zh-CN'] },
}

/** The OS's languages, most preferred first (empty outside a browser). */
function systemLanguages(): readonly string[] {
  if (typeof navigator === 'undefined') return []
  if (Array.isArray(navigator.languages) && navigator.languages.length > 0) return navigator.languages
  return navigator.language ? [navigator.language] : []
}

/**
 * The locale `auto` stands for: zh-CN when the OS's preferred language is any Chinese
 * (`zh`, `zh-CN`, `zh-TW`, `zh-Hans-CN`, …), else English.
 */
export function detectLocale(languages: readonly string[] = systemLanguages()): Locale {
  const first = languages.find((l) => typeof l === 'string' && l.trim() !== '')
  return first && /^zh(?:[-_]|$)/i.test(first.trim()) ? 'zh-CN' : 'en'
}

export function isLocalePreference(v: unknown): v is LocalePreference {
  return typeof v === 'string' && (LOCALE_PREFERENCES as readonly string[]).includes(v)
}

/** The stored preference; `auto` when none (or something unknown) is stored. */
export function readPreference(): LocalePreference {
  try {
    const stored = globalThis.localStorage?.getItem(LOCALE_STORAGE_KEY)
    return isLocalePreference(stored) ? stored : 'auto'
  } catch {
    return 'auto' // storage unavailable
  }
}

export function writePreference(preference: LocalePreference): void {
  try {
    globalThis.localStorage?.setItem(LOCALE_STORAGE_KEY, preference)
  } catch {
    // storage unavailable: the choice lasts until the window closes
  }
}

export function resolveLocale(preference: LocalePreference, languages?: readonly string[]): Locale {
  return preference === 'auto' ? detectLocale(languages) : preference
}

export const i18n = createI18n({
  legacy: false,
  locale: resolveLocale(readPreference()),
  fallbackLocale: 'en',
  messages,
  // Every key exists in both languages (a test checks); numbers and dates use Intl directly.
  missingWarn: false,
  fallbackWarn: false,
})

/** The active locale. Reactive: read while rendering, it re-renders on a change. */
export function currentLocale(): Locale {
  return i18n.global.locale.value as Locale
}

/** Switches the UI language now and tells the document (`<html lang>`). */
export function applyLocale(locale: Locale): void {
  i18n.global.locale.value = locale
  if (typeof document !== 'undefined') document.documentElement.lang = locale
}

/** `t` of the global instance, for plain functions (the format helpers, stores). */
export const t: typeof i18n.global.t = ((...args: unknown[]) =>
  (i18n.global.t as (...a: unknown[]) => string)(...args)) as typeof i18n.global.t

applyLocale(currentLocale())

export default i18n
