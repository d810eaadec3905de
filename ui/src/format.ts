import type { ComponentStatus } from './backend'
import { currentLocale, t } from './i18n'
import { formatInZoneLocale, formatTimeInZone, machineZone } from './zoned'

// The words and numbers shared by several pages. Like every helper that makes words, these use
// the global i18n instance (the active locale); called while a component renders, they follow a
// change of language.

export function statusWord(status: ComponentStatus): string {
  switch (status) {
    case 'ok':
      return t('health.status.ok')
    case 'unreachable':
      return t('health.status.unreachable')
    default:
      return t('health.status.unknown')
  }
}

export function formatLatency(ms: number | null): string | null {
  if (ms === null || !Number.isFinite(ms)) return null
  if (ms < 1) return t('units.lessThanMs')
  return t('units.ms', { n: Math.round(ms) })
}

/**
 * An instant as the active locale writes a date and time, in `zone` — the app's configured zone
 * on every page; the machine's when none is known — with the zone's UTC offset when
 * `withOffset`: "Jan 10, 2026, 02:00:00 +01:00", "2026-01-10 02:00:00 +01:00". Text that does
 * not parse comes back as is.
 */
export function formatDateTime(iso: string, zone: string = machineZone(), withOffset = false): string {
  return formatInZoneLocale(iso, zone, currentLocale(), withOffset)
}

/** The wall-clock time of an instant in `zone`, e.g. "14:03:22"; the raw text if it does not parse. */
export function formatTime(iso: string, zone: string = machineZone()): string {
  return formatTimeInZone(iso, zone, currentLocale())
}

/** Compact one-line rendering of an audit entry's free-form detail. */
export function formatDetail(detail: unknown): string {
  if (detail === null || detail === undefined) return ''
  if (typeof detail === 'string') return detail
  try {
    return JSON.stringify(detail) ?? String(detail)
  } catch {
    return String(detail)
  }
}
