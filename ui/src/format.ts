import type { ComponentStatus } from './backend'

export function statusWord(status: ComponentStatus): string {
  switch (status) {
    case 'ok':
      return 'healthy'
    case 'unreachable':
      return 'unreachable'
    default:
      return 'unknown'
  }
}

export function formatLatency(ms: number | null): string | null {
  if (ms === null || !Number.isFinite(ms)) return null
  if (ms < 1) return '<1 ms'
  return `${Math.round(ms)} ms`
}

function parse(iso: string): Date | null {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? null : d
}

/** Local wall-clock time, e.g. "14:03:22"; the raw text if it does not parse. */
export function formatTime(iso: string): string {
  const d = parse(iso)
  return d
    ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : iso
}

/** Local date and time, e.g. "2025-03-01 14:03:22"-ish per locale. */
export function formatDateTime(iso: string): string {
  const d = parse(iso)
  return d
    ? d.toLocaleString(undefined, {
        year: 'numeric',
        month: 'short',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      })
    : iso
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
