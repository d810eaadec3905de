// Words for the scheduler's values, shared by the Jobs page's components.
import type { DstNote, RunOutcome } from './backend'

export const RUN_OUTCOMES: readonly RunOutcome[] = ['running', 'ok', 'failed', 'timed_out', 'missed', 'skipped_overlap']

export function outcomeWord(outcome: RunOutcome): string {
  switch (outcome) {
    case 'timed_out':
      return 'timed out'
    case 'skipped_overlap':
      return 'skipped (overlap)'
    default:
      return outcome
  }
}

/** What a fire time's DST note means, for its tooltip. */
export function dstExplanation(note: DstNote): string {
  switch (note) {
    case 'gap_shifted':
      return 'falls in a DST gap: runs at the first valid time after it'
    case 'overlap_first':
      return 'repeated by a DST fall-back: runs once, at the first occurrence'
    case 'offset_changed':
      return 'the UTC offset changes before this run'
  }
}

/** "850 ms", "12.3 s", "2 min 5 s", "1 h 2 min"; null stays null. */
export function formatDuration(ms: number | null): string | null {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return null
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
  const s = Math.round(ms / 1000)
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}

/** Pretty JSON for display; strings are shown as they are. */
export function prettyJson(v: unknown): string {
  if (v === undefined) return ''
  if (typeof v === 'string') return v
  try {
    return JSON.stringify(v, null, 2) ?? String(v)
  } catch {
    return String(v)
  }
}

export type IntervalUnit = 'seconds' | 'minutes' | 'hours'

export const UNIT_SECONDS: Record<IntervalUnit, number> = { seconds: 1, minutes: 60, hours: 3600 }

/** The largest unit that divides `everySeconds` exactly, for editing it as "every N unit". */
export function splitInterval(everySeconds: number): { every: number; unit: IntervalUnit } {
  if (everySeconds > 0 && everySeconds % 3600 === 0) return { every: everySeconds / 3600, unit: 'hours' }
  if (everySeconds > 0 && everySeconds % 60 === 0) return { every: everySeconds / 60, unit: 'minutes' }
  return { every: everySeconds, unit: 'seconds' }
}

/** Zones offered in the time zone input's suggestions. */
export const COMMON_ZONES = [
  'Asia/Shanghai',
  'UTC',
  'Europe/London',
  'America/New_York',
  'Asia/Tokyo',
  'Europe/Berlin',
] as const

export const CRON_HINT =
  '5 fields: minute hour day-of-month month day-of-week, or 6 with seconds first. ' +
  'Ranges 1-5, lists 1,15, steps */10, names MON-FRI and JAN-DEC, L (last day), ' +
  '# (nth weekday, e.g. FRI#2), and @hourly @daily @weekly @monthly @yearly.'
