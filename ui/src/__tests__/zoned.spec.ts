import { describe, expect, it } from 'vitest'
import { formatInZone, localToRfc3339, normalizeLocal } from '../zoned'
import { buildPolicy, buildTrigger, slotOf, triggerStateFrom } from '../components/jobs/jobForm'
import { formatDuration } from '../jobsFormat'

describe('zoned date-times', () => {
  it('formats an instant in a named zone with its offset', () => {
    expect(formatInZone('2026-03-08T07:30:00Z', 'America/New_York')).toBe('2026-03-08 03:30:00 -04:00')
    expect(formatInZone('2026-03-08T07:30:00Z', 'Asia/Shanghai')).toBe('2026-03-08 15:30:00 +08:00')
    expect(formatInZone('2026-01-01T00:00:00+08:00', 'UTC')).toBe('2025-12-31 16:00:00 +00:00')
    expect(formatInZone('2026-01-01T00:00:00+08:00', 'Asia/Kolkata', false)).toBe('2025-12-31 21:30:00')
    // Midnight is 00, not 24.
    expect(formatInZone('2026-01-01T00:00:00Z', 'UTC')).toBe('2026-01-01 00:00:00 +00:00')
  })

  it('falls back to the text’s own wall time for an unknown zone, and to the text if it is no date', () => {
    expect(formatInZone('2026-03-08T03:30:00-04:00', 'Not/AZone')).toBe('2026-03-08 03:30:00 -04:00')
    expect(formatInZone('soon', 'UTC')).toBe('soon')
  })

  it('reads a local wall time in a zone as RFC 3339, across DST', () => {
    expect(localToRfc3339('2026-01-10T08:00', 'Europe/Berlin')).toBe('2026-01-10T08:00:00+01:00')
    expect(localToRfc3339('2026-07-10T08:00:30', 'Europe/Berlin')).toBe('2026-07-10T08:00:30+02:00')
    // 02:30 does not exist on 2026-03-08 in New York: the instant just after the gap.
    expect(localToRfc3339('2026-03-08T02:30', 'America/New_York')).toBe('2026-03-08T03:30:00-04:00')
    expect(localToRfc3339('2026-03-29T02:30', 'Europe/Berlin')).toBe('2026-03-29T03:30:00+02:00')
    // 01:30 happens twice on 2026-11-01 in New York: the first one.
    expect(localToRfc3339('2026-11-01T01:30', 'America/New_York')).toBe('2026-11-01T01:30:00-04:00')
    expect(localToRfc3339('2026-03-08', 'UTC')).toBeNull()
    expect(localToRfc3339('2026-03-08T02:30', 'Nowhere/Special')).toBeNull()
    expect(normalizeLocal(' 2026-12-05 08:00 ')).toBe('2026-12-05T08:00')
  })
})

describe('job form rules', () => {
  it('computes every_seconds from N and the unit, and splits it back', () => {
    const s = triggerStateFrom({ type: 'interval', every_seconds: 5400, start: '2026-01-01T00:00', end: null }, 'UTC')
    expect([s.every, s.unit]).toEqual([90, 'minutes'])
    expect(buildTrigger({ ...s, every: 3, unit: 'hours' })).toEqual({
      spec: { type: 'interval', every_seconds: 10800, start: '2026-01-01T00:00', end: null },
    })
    expect(buildTrigger({ ...s, every: '' }).error).toMatch(/whole number/)
    expect(buildTrigger({ ...s, type: 'cron', expr: '  @hourly ' })).toEqual({ spec: { type: 'cron', expr: '@hourly' } })
  })

  it('takes an empty timeout as none and rejects impossible numbers', () => {
    const base = { misfire: 10, coalesce: false, maxInstances: 1, jitter: 0, timeout: '' }
    expect(buildPolicy(base).policy?.timeout_seconds).toBeNull()
    expect(buildPolicy({ ...base, timeout: 30 }).policy?.timeout_seconds).toBe(30)
    expect(buildPolicy({ ...base, maxInstances: 0 }).error).toMatch(/Max instances/)
  })

  it('maps error fields to the form’s places', () => {
    expect(slotOf('trigger')).toBe('trigger')
    expect(slotOf('trigger.expr')).toBe('trigger')
    expect(slotOf('policy.max_instances')).toBe('policy')
    expect(slotOf('timezone')).toBe('timezone')
    expect(slotOf('something_else')).toBeNull()
    expect(slotOf(null)).toBeNull()
  })

  it('formats durations', () => {
    expect(formatDuration(850)).toBe('850 ms')
    expect(formatDuration(12_340)).toBe('12.3 s')
    expect(formatDuration(125_000)).toBe('2 min 5 s')
    expect(formatDuration(null)).toBeNull()
  })
})
