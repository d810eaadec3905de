import { describe, expect, it } from 'vitest'
import type { Job } from '../backend'
import { formatDateTime, formatLatency, formatTime } from '../format'
import { applyLocale } from '../i18n'
import { dstExplanation, formatDuration, outcomeWord, triggerWords } from '../jobsFormat'
import { formatDrain, ocrStatusWord } from '../ocrFormat'

type TriggerOf = Pick<Job, 'trigger' | 'trigger_text'>

const interval = (every_seconds: number, trigger_text: string, start: string | null = null, end: string | null = null): TriggerOf => ({
  trigger: { type: 'interval', every_seconds, start, end },
  trigger_text,
})

describe('the trigger in words', () => {
  it('reads as the core’s own text in English', () => {
    const cases: [TriggerOf, string][] = [
      [interval(1, 'every 1 second from 2026-01-10 08:00:00'), 'every 1 second from 2026-01-10 08:00:00'],
      [interval(10, 'every 10 seconds from 2026-01-10 08:00:00'), 'every 10 seconds from 2026-01-10 08:00:00'],
      [interval(60, 'every 1 minute from 2026-01-10 08:00:00'), 'every 1 minute from 2026-01-10 08:00:00'],
      [
        interval(7200, 'every 2 hours from 2026-01-10 08:00:00 until 2026-02-01 00:00:00', null, '2026-02-01T00:00'),
        'every 2 hours from 2026-01-10 08:00:00 until 2026-02-01 00:00:00',
      ],
      [
        { trigger: { type: 'date', at: '2026-12-05T08:00' }, trigger_text: 'once at 2026-12-05 08:00:00' },
        'once at 2026-12-05 08:00:00',
      ],
      [
        { trigger: { type: 'cron', expr: '0 8 * * MON-FRI' }, trigger_text: 'at 08:00 on Monday through Friday' },
        'At 08:00, Monday through Friday',
      ],
      [{ trigger: { type: 'cron', expr: '0 25 * * *' }, trigger_text: 'invalid trigger' }, 'invalid trigger'],
    ]
    for (const [job, words] of cases) expect(triggerWords(job)).toBe(words)
  })

  it('uses the trigger itself when the core’s text says nothing more', () => {
    expect(triggerWords(interval(600, 'every 10 minutes'))).toBe('every 10 minutes')
    expect(triggerWords(interval(3600, '', '2026-01-10T08:00', '2026-01-11T08:00:30'))).toBe(
      'every 1 hour from 2026-01-10 08:00:00 until 2026-01-11 08:00:30',
    )
  })

  it('reads in Chinese', () => {
    applyLocale('zh-CN')
    expect(triggerWords(interval(1, 'every 1 second from 2026-01-10 08:00:00'))).toBe('每 1 秒（自 2026-01-10 08:00:00 起）') // the period first: a narrow cell keeps it
    expect(triggerWords(interval(600, 'every 10 minutes'))).toBe('每 10 分钟')
    expect(
      triggerWords(interval(7200, 'every 2 hours from 2026-01-10 08:00:00 until 2026-02-01 00:00:00', null, '2026-02-01T00:00')),
    ).toBe('每 2 小时（自 2026-01-10 08:00:00 起，至 2026-02-01 00:00:00 止）')
    expect(triggerWords({ trigger: { type: 'date', at: '2026-12-05T08:00' }, trigger_text: 'once at 2026-12-05 08:00:00' })).toBe(
      '于 2026-12-05 08:00:00 运行一次',
    )
    expect(
      triggerWords({ trigger: { type: 'cron', expr: '0 8 * * MON-FRI' }, trigger_text: 'at 08:00 on Monday through Friday' }),
    ).toBe('在08:00，星期一至星期五')
    expect(triggerWords({ trigger: { type: 'cron', expr: '0 25 * * *' }, trigger_text: 'invalid trigger' })).toBe('触发器无效')
  })
})

describe('a cron trigger in words (cronstrue)', () => {
  const cron = (expr: string, trigger_text = 'the core’s text'): TriggerOf => ({ trigger: { type: 'cron', expr }, trigger_text })

  it('reads as plain English on a 24-hour clock, not “At every 20 minutes, of hour 8-22.”', () => {
    expect(triggerWords(cron('*/20 8-22 * * *', 'At every 20 minutes, of hour 8-22.'))).toBe(
      'Every 20 minutes, between 08:00 and 22:59',
    )
    expect(triggerWords(cron('30 2 * * *'))).toBe('At 02:30')
    expect(triggerWords(cron('0 */5 * * * *'))).toBe('Every 5 minutes')
    expect(triggerWords(cron('@daily'))).toBe('At 00:00')
  })

  it('reads in Chinese, with Chinese punctuation', () => {
    applyLocale('zh-CN')
    expect(triggerWords(cron('*/20 8-22 * * *'))).toBe('每隔 20 分钟，在 08:00 和 22:59 之间')
    expect(triggerWords(cron('15 10 * * 6,0'))).toBe('在10:15，仅星期日和星期六')
    expect(triggerWords(cron('0 3 1 * *'))).toBe('在03:00，限每月 1 号')
  })

  it('falls back to the core’s text (English) or the expression (Chinese) when cronstrue cannot read it', () => {
    expect(triggerWords(cron('0 8 * * MON-FRI 2026 extra', 'at 08:00 in 2026'))).toBe('at 08:00 in 2026')
    applyLocale('zh-CN')
    expect(triggerWords(cron('0 8 * * MON-FRI 2026 extra', 'at 08:00 in 2026'))).toBe('按 Cron 表达式 0 8 * * MON-FRI 2026 extra')
  })
})

describe('words and numbers in both languages', () => {
  it('durations, outcomes and DST notes', () => {
    expect([850, 12_345, 125_000, 3_720_000].map(formatDuration)).toEqual(['850 ms', '12.3 s', '2 min 5 s', '1 h 2 min'])
    expect(outcomeWord('skipped_overlap')).toBe('skipped (overlap)')
    expect(dstExplanation('offset_changed')).toBe('the UTC offset changes before this run')
    expect(formatDrain(30)).toBe('~30 s')
    expect(ocrStatusWord('in_flight')).toBe('in flight')
    expect(formatLatency(3.4)).toBe('3 ms')

    applyLocale('zh-CN')
    expect([850, 12_345, 125_000, 3_720_000].map(formatDuration)).toEqual(['850 毫秒', '12.3 秒', '2 分 5 秒', '1 小时 2 分'])
    expect(outcomeWord('skipped_overlap')).toBe('跳过（重叠）')
    expect(dstExplanation('offset_changed')).toBe('本次运行前 UTC 偏移会发生变化')
    expect(formatDrain(30)).toBe('约 30 秒')
    expect(formatDrain(3 * 3600 + 60)).toBe('3 小时 1 分')
    expect(ocrStatusWord('in_flight')).toBe('处理中')
    expect(formatLatency(3.4)).toBe('3 毫秒')
  })

  it('dates and times in the zone given, written the locale’s way', () => {
    const at = '2026-01-10T01:00:05Z'
    expect(formatDateTime(at, 'Europe/Berlin')).toBe('Jan 10, 2026, 02:00:05')
    expect(formatDateTime(at, 'Asia/Shanghai', true)).toBe('Jan 10, 2026, 09:00:05 +08:00')
    expect(formatTime(at, 'Asia/Shanghai')).toBe('09:00:05')
    expect(formatDateTime('soon', 'UTC')).toBe('soon')

    applyLocale('zh-CN')
    expect(formatDateTime(at, 'Europe/Berlin')).toBe('2026-01-10 02:00:05')
    expect(formatDateTime(at, 'America/New_York', true)).toBe('2026-01-09 20:00:05 -05:00')
    expect(formatTime(at, 'Asia/Shanghai')).toBe('09:00:05')
  })
})
