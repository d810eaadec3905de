// A cron expression in words, in the console's languages, by cronstrue (its zh_CN locale is
// loaded on its own: the all-languages bundle is five times the size).
import cronstrue from 'cronstrue'
import 'cronstrue/locales/zh_CN'
import type { Locale } from './i18n'

const CRONSTRUE_LOCALE: Record<Locale, string> = { en: 'en', 'zh-CN': 'zh_CN' }

/**
 * "Every 20 minutes, between 08:00 and 22:59" / "每隔 20 分钟，在 08:00 和 22:59 之间" for
 * `*\/20 8-22 * * *`; null when cronstrue cannot read the expression (the caller falls back to
 * the core's text). A 24-hour clock, as the rest of the console writes times; six fields are
 * seconds first, as the core reads them.
 */
export function describeCron(expr: string, locale: Locale): string | null {
  let text: string
  try {
    text = cronstrue.toString(expr.trim(), {
      locale: CRONSTRUE_LOCALE[locale],
      use24HourTimeFormat: true,
      throwExceptionOnParseError: true,
    })
  } catch {
    return null
  }
  if (locale !== 'zh-CN') return text
  // cronstrue's Chinese keeps English commas and spaces around 和 between two words
  // ("仅星期日 和 星期六"); next to a number or a time the spaces stay ("08:00 和 22:59").
  return text.replace(/, /g, '，').replace(/(\p{Script=Han}) 和 (\p{Script=Han})/gu, '$1和$2')
}
