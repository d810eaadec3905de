// What a job's charts show, from its latest runs (pure: JobRunsChart.vue draws it). Each run that
// ran and ended is a point of the duration chart, failures marked; the failure rate is the share
// of those runs that failed or timed out, per bucket of time (an hour, or what suits the span).
import type { JobRun, RunOutcome } from './backend'

/** Fewer ended runs than this: the charts say they are collecting rather than draw a dot. */
export const MIN_POINTS = 2

/** One run on the duration chart. */
export interface DurationPoint {
  id: number
  /** When it started (ms since the epoch). */
  at: number
  seconds: number
  outcome: RunOutcome
  failed: boolean
}

/** One bucket of the failure-rate chart. */
export interface FailureBucket {
  /** Its start (ms since the epoch). */
  start: number
  ran: number
  failed: number
  /** failed / ran, in percent (0 for a bucket where nothing ran). */
  percent: number
}

/** The bucket sizes, smallest first, and their names in the catalogues (`jobs.charts.bucket.*`). */
export const BUCKETS = [
  { ms: 60_000, name: 'minute' },
  { ms: 5 * 60_000, name: 'fiveMinutes' },
  { ms: 15 * 60_000, name: 'quarterHour' },
  { ms: 3_600_000, name: 'hour' },
  { ms: 6 * 3_600_000, name: 'sixHours' },
  { ms: 24 * 3_600_000, name: 'day' },
] as const

export type BucketName = (typeof BUCKETS)[number]['name']

/** The most buckets the failure-rate chart shows. */
const MAX_BUCKETS = 24

const failedOutcome = (o: RunOutcome) => o === 'failed' || o === 'timed_out'

/** The runs that ran and ended (they have a duration), oldest first. */
export function durationPoints(runs: readonly JobRun[]): DurationPoint[] {
  return runs
    .filter((r) => r.outcome !== 'running' && r.started_at !== null && r.duration_ms !== null)
    .map((r) => ({
      id: r.id,
      at: Date.parse(r.started_at!),
      seconds: r.duration_ms! / 1000,
      outcome: r.outcome,
      failed: failedOutcome(r.outcome),
    }))
    .sort((a, b) => a.at - b.at || a.id - b.id)
}

/**
 * The bucket for points spanning `spanMs`: an hour where that shows them in at most
 * MAX_BUCKETS, else the nearest size that does (smaller for a short span, larger for a long one).
 */
export function bucketFor(spanMs: number): (typeof BUCKETS)[number] {
  const hour = BUCKETS.find((b) => b.name === 'hour')!
  if (spanMs / hour.ms <= MAX_BUCKETS && spanMs >= 3 * hour.ms) return hour
  return BUCKETS.find((b) => spanMs / b.ms <= MAX_BUCKETS) ?? BUCKETS[BUCKETS.length - 1]!
}

/** The failure rate per bucket over the points' span, every bucket from the first to the last. */
export function failureBuckets(points: readonly DurationPoint[]): { size: BucketName; buckets: FailureBucket[] } {
  if (points.length === 0) return { size: 'hour', buckets: [] }
  const first = points[0]!.at
  const last = points[points.length - 1]!.at
  const bucket = bucketFor(last - first)
  const start = Math.floor(first / bucket.ms) * bucket.ms
  const count = Math.floor((last - start) / bucket.ms) + 1
  const buckets: FailureBucket[] = Array.from({ length: count }, (_, i) => ({
    start: start + i * bucket.ms,
    ran: 0,
    failed: 0,
    percent: 0,
  }))
  for (const p of points) {
    const b = buckets[Math.floor((p.at - start) / bucket.ms)]!
    b.ran += 1
    if (p.failed) b.failed += 1
  }
  for (const b of buckets) b.percent = b.ran === 0 ? 0 : Math.round((b.failed / b.ran) * 1000) / 10
  return { size: bucket.name, buckets }
}
