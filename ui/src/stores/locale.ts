import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import {
  applyLocale,
  detectLocale,
  readPreference,
  writePreference,
  type Locale,
  type LocalePreference,
} from '../i18n'

/**
 * The UI language: the preference staff chose in Settings (kept in localStorage under
 * `opsdeck.locale`: `auto`, `en` or `zh-CN`) and the locale it stands for. `auto` follows the OS
 * (any Chinese → zh-CN, else English), also when the OS language changes while the app runs.
 * Changing it switches vue-i18n's global locale and `<html lang>` at once.
 */
export const useLocaleStore = defineStore('locale', () => {
  const preference = ref<LocalePreference>(readPreference())
  /** What `auto` picks on this machine now. */
  const detected = ref<Locale>(detectLocale())
  const locale = computed<Locale>(() => (preference.value === 'auto' ? detected.value : preference.value))

  function setPreference(next: LocalePreference): void {
    preference.value = next
    writePreference(next)
    applyLocale(locale.value)
  }

  if (typeof window !== 'undefined') {
    window.addEventListener('languagechange', () => {
      detected.value = detectLocale()
      if (preference.value === 'auto') applyLocale(locale.value)
    })
  }

  // The store and vue-i18n agree from the start (i18n/index.ts read the same preference).
  applyLocale(locale.value)

  return { preference, detected, locale, setPreference }
})
