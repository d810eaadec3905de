// How the console shows an error a command rejected with (`BackendError`: the core's ErrorBody
// `{code, message, field?, params?}`, or code `unknown`): from the catalogues (i18n/en.ts and
// zh-CN.ts, `errors.codes.<code>`) in the viewer's language, the error's `params` filling the
// entry's placeholders. Every ErrorCode has an entry in both (errorCatalogue.spec.ts checks), so
// the core's English `message` is shown as it is only for code `unknown` (what the shell or the
// WebView threw), and through `{message}` where an English entry uses it.
import type { BackendError } from './backend'
import { i18n, t } from './i18n'
import { paramWords } from './reasonText'

/** The catalogue key of an error code. */
export function errorKey(code: string): string {
  return `errors.codes.${code}`
}

/** The error in the viewer's language. Reactive: read while rendering, it follows the language. */
export function errorText(error: BackendError): string {
  const key = errorKey(error.code)
  if (error.code !== 'unknown' && (i18n.global.te(key) || i18n.global.te(key, 'en'))) {
    return t(key, { ...paramWords(error.params), message: error.message })
  }
  return error.message || t('errors.unknown')
}
