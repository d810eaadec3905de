// Words and numbers of the OCR queue view. Words come from the global i18n instance.
import type { OcrPauseKind, OcrStatus, Side } from './backend'
import { t } from './i18n'

export const OCR_STATUSES: readonly OcrStatus[] = ['pending', 'in_flight', 'done', 'dead', 'cancelled']

export function ocrStatusWord(status: OcrStatus): string {
  return t(`ocr.status.${status}`)
}

/** An ID card's side: "front", "back" (正面, 反面). */
export function sideWord(side: Side | string): string {
  return side === 'front' || side === 'back' ? t(`ocr.side.${side}`) : side
}

export function pauseKindWord(kind: OcrPauseKind): string {
  return t(`ocr.pauseKind.${kind}`)
}

/**
 * Time to work off the backlog: "~N s" under a minute, "N min" under an hour (rounded up),
 * "N h M min" beyond (in the active language); null when nothing waits.
 */
export function formatDrain(seconds: number | null): string | null {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return null
  if (seconds < 60) return t('units.about', { n: Math.max(1, Math.ceil(seconds)) })
  const minutes = Math.ceil(seconds / 60)
  if (minutes < 60) return t('units.minutes', { n: minutes })
  const h = Math.floor(minutes / 60)
  const m = minutes % 60
  return m === 0 ? t('units.hours', { n: h }) : t('units.hoursMinutes', { h, m })
}

/** A cap as staff type it: "2", "0.5", "12.5" (no trailing zeros). */
export function formatCap(cap: number): string {
  return String(Number(cap.toFixed(2)))
}

/** Whether `text` is a number the cap input may send (the core checks the range). */
export function parseCap(text: string): number | null {
  const trimmed = text.trim()
  if (trimmed === '') return null
  const n = Number(trimmed)
  return Number.isFinite(n) ? n : null
}

/** "20260101" → "2026-01-01"; anything else as is (e.g. 长期). */
export function formatCardDate(text: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(text)
  return m ? `${m[1]}-${m[2]}-${m[3]}` : text
}

/**
 * A long URL shortened in the middle, keeping its start (host) and its end (query, file name):
 * "https://img.example.co…g?fail=216201&times=1". At most `max` characters.
 */
export function shortUrl(url: string, max = 44): string {
  const chars = [...url]
  if (chars.length <= max) return url
  const tail = Math.floor((max - 1) / 2)
  const head = max - 1 - tail
  return `${chars.slice(0, head).join('')}…${chars.slice(chars.length - tail).join('')}`
}

/** Baidu's check of the ID number against the sex and birth date read from the card. */
export function numberCheckWord(type: number | null): string {
  switch (type) {
    case null:
      return '—'
    case -1:
      return t('ocr.numberCheck.empty')
    case 0:
      return t('ocr.numberCheck.invalid')
    case 1:
      return t('ocr.numberCheck.consistent')
    case 2:
      return t('ocr.numberCheck.inconsistent')
    case 3:
      return t('ocr.numberCheck.birthDate')
    case 4:
      return t('ocr.numberCheck.sex')
    default:
      return t('ocr.numberCheck.code', { code: type })
  }
}
