// Stored reasons and the params of errors, in the viewer's language.
//
// A reason the core keeps with what it happened to (an order's cancel reason, `CancelReason`; a
// run's failure, `ErrorReason`) is a code and its params, like an error: rendered from the
// catalogues (`cancelReasons.<code>`, `errors.codes.<code>`). A param whose value is a word the
// catalogues name (`errors.values.<param>.<value>`: a cron field, why an image URL was refused)
// is shown in words; any other value (a number, an order number, the cron text itself, staff's
// own words) as it is.
import type { CancelReason, ErrorReason } from './backend/api.generated'
import { i18n, t } from './i18n'

type Params = { [key in string]?: string }

/** `params` with each value the catalogues name in words replaced by those words. */
export function paramWords(params: Params | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value === undefined) continue
    const words = `errors.values.${key}.${value}`
    out[key] = i18n.global.te(words) || i18n.global.te(words, 'en') ? t(words) : value
  }
  return out
}

/** Why an order was cancelled, in the viewer's language. */
export function cancelReasonText(reason: CancelReason): string {
  const key = `cancelReasons.${reason.code}`
  return i18n.global.te(key) || i18n.global.te(key, 'en') ? t(key, paramWords(reason.params)) : reason.code
}

/** Why a run failed, timed out or was stopped, in the viewer's language. */
export function errorReasonText(reason: ErrorReason): string {
  const key = `errors.codes.${reason.code}`
  return i18n.global.te(key) || i18n.global.te(key, 'en') ? t(key, paramWords(reason.params)) : reason.code
}
