// Words for the scheduler's values, shared by the Jobs page's components. Words come from the
// global i18n instance (see i18n/index.ts).
import type { DstNote, Job, JobRun, RunOutcome } from './backend'
import { describeCron } from './cronText'
import { currentLocale, t } from './i18n'
import { normalizeLocal } from './zoned'

export const RUN_OUTCOMES: readonly RunOutcome[] = ['running', 'ok', 'failed', 'timed_out', 'missed', 'skipped_overlap', 'stopped']

export function outcomeWord(outcome: RunOutcome): string {
  return t(`jobs.outcome.${outcome}`)
}

/** How a manual run came about, e.g. "manual · bob"; null for a scheduled one. */
export function startedByWords(run: Pick<JobRun, 'manual' | 'started_by'>): string | null {
  if (!run.manual) return null
  return run.started_by ? t('jobs.runs.manualBy', { who: run.started_by }) : t('jobs.runs.manual')
}

/** What a fire time's DST note means, for its tooltip. */
export function dstExplanation(note: DstNote): string {
  return t(`jobs.dst.${note}`)
}

/** "850 ms", "12.3 s", "2 min 5 s", "1 h 2 min" (in the active language); null stays null. */
export function formatDuration(ms: number | null): string | null {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return null
  if (ms < 1000) return t('units.ms', { n: Math.round(ms) })
  if (ms < 60_000) return t('units.seconds', { n: (ms / 1000).toFixed(ms < 10_000 ? 2 : 1) })
  const s = Math.round(ms / 1000)
  if (s < 3600) return t('units.minutesSeconds', { m: Math.floor(s / 60), s: s % 60 })
  return t('units.hoursMinutes', { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) })
}

/** A local date-time of a trigger ('2026-12-05T08:00') as the core writes it: '2026-12-05 08:00:00'. */
function wallText(local: string | null | undefined): string | null {
  if (!local) return null
  const norm = normalizeLocal(local)
  if (!norm) return local
  const [date, time] = norm.split('T') as [string, string]
  return `${date} ${time.length === 5 ? `${time}:00` : time}`
}

/** The core's description of an interval trigger: "every 10 seconds from <start>[ until <end>]". */
const CORE_INTERVAL = / from (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?: until (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}))?$/

const PERIOD_KEYS: Record<IntervalUnit, string> = {
  seconds: 'jobs.trigger.second',
  minutes: 'jobs.trigger.minute',
  hours: 'jobs.trigger.hour',
}

/**
 * A job's trigger in words, in the active language: "every 10 seconds from 2026-01-10 08:00:00",
 * "once at 2026-12-05 08:00:00" (English reads as the core's own `trigger_text`). Built from the
 * trigger itself; the interval's first fire (which the core works out) is read from
 * `trigger_text`. A cron trigger is described by cronstrue in the active language (see
 * cronText.ts); one cronstrue cannot read keeps the core's description in English and names its
 * expression in other languages.
 */
export function triggerWords(job: Pick<Job, 'trigger' | 'trigger_text'>): string {
  const spec = job.trigger
  if (job.trigger_text === 'invalid trigger') return t('jobs.trigger.invalid')
  switch (spec.type) {
    case 'interval': {
      const { every, unit } = splitInterval(spec.every_seconds)
      const period = t(PERIOD_KEYS[unit], every)
      const core = CORE_INTERVAL.exec(job.trigger_text)
      const from = core?.[1] ?? wallText(spec.start)
      const until = core?.[2] ?? wallText(spec.end)
      if (from && until) return t('jobs.trigger.everyFromUntil', { period, from, until })
      if (from) return t('jobs.trigger.everyFrom', { period, from })
      if (until) return t('jobs.trigger.everyUntil', { period, until })
      return t('jobs.trigger.every', { period })
    }
    case 'date':
      return t('jobs.trigger.once', { at: wallText(spec.at) ?? spec.at })
    case 'cron': {
      const description = describeCron(spec.expr, currentLocale())
      if (description) return t('jobs.trigger.cron', { description, expr: spec.expr })
      return t('jobs.trigger.cronUnread', { description: job.trigger_text || spec.expr, expr: spec.expr })
    }
    default:
      return job.trigger_text
  }
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
