import { afterEach, describe, expect, it } from 'vitest'
import { CANCEL_CODES } from '../backend/api.generated'
import { errorText } from '../errorText'
import { applyLocale, i18n } from '../i18n'
import { cancelReasonText, errorReasonText } from '../reasonText'

afterEach(() => applyLocale('en'))

/** Latin words of three letters or more: English that should not be on a zh-CN screen. */
const ENGLISH = /[A-Za-z]{3,}/

describe('stored reasons', () => {
  it('every CancelCode has an entry in both catalogues', () => {
    expect(CANCEL_CODES.length).toBeGreaterThan(0)
    for (const locale of ['en', 'zh-CN'] as const) {
      for (const code of CANCEL_CODES) expect(i18n.global.te(`cancelReasons.${code}`, locale), `${locale}: ${code}`).toBe(true)
    }
  })

  it('renders an expired order’s reason and a run’s failure in the viewer’s language', () => {
    const expired = { code: 'unpaid_minutes', params: { minutes: '2' } } as const
    expect(cancelReasonText(expired)).toBe('Unpaid 2 min after it was placed')
    applyLocale('zh-CN')
    expect(cancelReasonText(expired)).toBe('下单后 2 分钟未支付')
    expect(cancelReasonText(expired)).not.toMatch(ENGLISH)
    expect(errorReasonText({ code: 'task_timed_out', params: { seconds: '30' } })).toBe('超过 30 秒的超时后被停止。')
    // Staff's own words are shown as they wrote them; text stored before codes, as it was.
    expect(cancelReasonText({ code: 'staff', params: { text: 'customer asked' } })).toBe('customer asked')
    expect(cancelReasonText({ code: 'legacy_text', params: { text: 'unpaid 2 minutes after it was placed' } })).toBe(
      'unpaid 2 minutes after it was placed',
    )
  })
})

describe('a refused cron expression', () => {
  const refused = {
    code: 'cron_invalid',
    message: "cron: field 'day of month' (field 3 of 5): \"1DAY\" is not valid (allowed: 1-31, L, W, * , - /); e.g. 1",
    field: 'trigger',
    params: { field: 'day_of_month', position: '3', value: '1DAY', example: '1' },
  } as const

  it('names the field in words, its position and an example, in English', () => {
    expect(errorText(refused)).toBe(
      'Field 3 of the cron expression (day of month) is “1DAY”, which is not valid there; e.g. 1.',
    )
  })

  it('has no English in Chinese but the cron text itself', () => {
    applyLocale('zh-CN')
    const text = errorText(refused)
    expect(text).toBe('cron 表达式的第 3 个字段（日期）“1DAY”无效；有效示例：1。')
    expect(text.replace('cron', '').replace('“1DAY”', '')).not.toMatch(ENGLISH)
  })

  it('renders an image URL’s refusal reason in words', () => {
    applyLocale('zh-CN')
    const text = errorText({
      code: 'image_url_invalid',
      message: 'not a URL: relative URL without a base',
      field: 'url',
      params: { reason: 'not_url', example: 'https://shop.example.com/id/front.jpg' },
    })
    expect(text).toBe('无法使用此图片网址：这不是网址。有效示例：https://shop.example.com/id/front.jpg')
    expect(text).not.toContain('relative')
  })
})
