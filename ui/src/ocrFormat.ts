// Words and numbers of the OCR queue view.
import type { OcrPauseKind, OcrStatus } from './backend'

export const OCR_STATUSES: readonly OcrStatus[] = ['pending', 'in_flight', 'done', 'dead']

export function ocrStatusWord(status: OcrStatus): string {
  switch (status) {
    case 'pending':
      return 'pending'
    case 'in_flight':
      return 'in flight'
    case 'done':
      return 'done'
    case 'dead':
      return 'dead'
  }
}

export function pauseKindWord(kind: OcrPauseKind): string {
  switch (kind) {
    case 'quota':
      return 'daily quota used up'
    case 'misconfigured':
      return 'misconfigured'
    case 'manual':
      return 'paused by staff'
  }
}

/**
 * Time to work off the backlog: "~N s" under a minute, "N min" under an hour (rounded up),
 * "N h M min" beyond; null when nothing waits.
 */
export function formatDrain(seconds: number | null): string | null {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return null
  if (seconds < 60) return `~${Math.max(1, Math.ceil(seconds))} s`
  const minutes = Math.ceil(seconds / 60)
  if (minutes < 60) return `${minutes} min`
  const h = Math.floor(minutes / 60)
  const m = minutes % 60
  return m === 0 ? `${h} h` : `${h} h ${m} min`
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
      return 'all fields empty'
    case 0:
      return 'invalid number'
    case 1:
      return 'consistent with sex and birth date'
    case 2:
      return 'inconsistent with sex and birth date'
    case 3:
      return 'inconsistent with the birth date'
    case 4:
      return 'inconsistent with the sex'
    default:
      return `code ${type}`
  }
}
