// A date and time as an operator types it into a filter, in either language. The console writes
// them as yyyy-MM-dd HH:mm in every locale (unambiguous: no "03/04" that is March in one country
// and April in another); it also reads what it shows elsewhere (a pasted "Jan 10, 2026, 03:00:00"
// or "2026年1月10日 03:00:00") and the usual variants ("2026/1/10 8:00", a date alone, full-width
// digits from a Chinese input method). The wall time is read in a zone by zoned.ts.

import { localInputValue } from './zoned'

/** The format the date fields show and ask for. */
export const DATE_TIME_FORMAT = 'yyyy-MM-dd HH:mm'

export type DateTextResult =
  /** A wall-clock time, 'YYYY-MM-DDTHH:MM[:SS]' (what zoned.ts `localToRfc3339` reads). */
  | { ok: true; local: string }
  /** `format`: not a date and time; `range`: shaped like one, but no such day or time (31 April, 25:00). */
  | { ok: false; reason: 'format' | 'range' }

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

const TIME = String.raw`(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?`
/** 2026-01-10 08:00, 2026/1/10 8:00:30, 2026.01.10T08:00, 2026-01-10 */
const NUMERIC = new RegExp(String.raw`^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})${TIME}$`)
/** 2026年1月10日 08:00 */
const CHINESE = new RegExp(String.raw`^(\d{4})年(\d{1,2})月(\d{1,2})日${TIME}$`)
/** Jan 10, 2026, 08:00:00 (the English pages' own format) */
const ENGLISH = new RegExp(String.raw`^([a-z]{3})[a-z]*\.? (\d{1,2}),? (\d{4})${TIME}$`, 'i')

/** Full-width digits and punctuation (a Chinese input method's) as ASCII; spaces squeezed. */
function plain(text: string): string {
  return text
    .replace(/[\uff01-\uff5e]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/[\s\u3000]+/g, ' ')
    .trim()
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0')

function checked(y: number, mo: number, d: number, h: number, mi: number, s: number | null): DateTextResult {
  const daysInMonth = mo >= 1 && mo <= 12 ? new Date(Date.UTC(y, mo, 0)).getUTCDate() : 0
  if (d < 1 || d > daysInMonth || h > 23 || mi > 59 || (s !== null && s > 59)) return { ok: false, reason: 'range' }
  const time = `${pad(h)}:${pad(mi)}${s !== null ? `:${pad(s)}` : ''}`
  return { ok: true, local: `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${time}` }
}

/** Reads a date and time as typed; a date alone is its midnight. */
export function parseDateText(text: string): DateTextResult {
  const s = plain(text)
  const time = (h?: string, mi?: string, sec?: string) =>
    [h ? +h : 0, mi ? +mi : 0, sec ? +sec : null] as const
  let m = NUMERIC.exec(s)
  if (m) return checked(+m[1]!, +m[3]!, +m[4]!, ...time(m[5], m[6], m[7]))
  m = CHINESE.exec(s)
  if (m) return checked(+m[1]!, +m[2]!, +m[3]!, ...time(m[4], m[5], m[6]))
  m = ENGLISH.exec(s)
  if (m) {
    const month = MONTHS.indexOf(m[1]!.toLowerCase()) + 1
    if (month === 0) return { ok: false, reason: 'format' }
    return checked(+m[3]!, month, +m[2]!, ...time(m[4], m[5], m[6]))
  }
  return { ok: false, reason: 'format' }
}

/** An instant as the date fields write it, in `zone`: "2026-01-10 08:00". Null if it does not parse. */
export function dateFieldText(iso: string, zone: string): string | null {
  const t = Date.parse(iso)
  return Number.isNaN(t) ? null : localInputValue(zone, t).replace('T', ' ')
}
