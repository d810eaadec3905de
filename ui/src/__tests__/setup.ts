// Every test mounts with the app's i18n instance (components call useI18n(), the format helpers
// use the same global instance) and starts in English with no stored language preference.
import { config } from '@vue/test-utils'
import type { App } from 'vue'
import { afterEach, beforeEach } from 'vitest'
import { applyLocale, i18n, LOCALE_STORAGE_KEY } from '../i18n'

config.global.plugins.push({
  install(app: App) {
    const unmount = app.unmount
    void i18n.install(app)
    // vue-i18n disposes its global scope when an app unmounts; the tests mount many apps with
    // the one instance the helpers use, so keep it alive.
    app.unmount = unmount
  },
})

function reset(): void {
  localStorage.removeItem(LOCALE_STORAGE_KEY)
  applyLocale('en')
}

beforeEach(reset)
afterEach(reset)
