import { afterEach, describe, expect, it } from 'vitest'
import { ERROR_CODES } from '../backend/api.generated'
import { errorKey, errorText } from '../errorText'
import { applyLocale, i18n } from '../i18n'
import en from '../i18n/en'
import zhCN from '../i18n/zh-CN'

afterEach(() => applyLocale('en'))

describe('the error catalogues', () => {
  it('have an entry for every ErrorCode of the core, in English and in Chinese', () => {
    const codes = (catalogue: { errors: { codes: object } }) => Object.keys(catalogue.errors.codes).sort()
    const missing = (catalogue: { errors: { codes: object } }) =>
      ERROR_CODES.filter((code) => !codes(catalogue).includes(code))
    expect(ERROR_CODES.length).toBeGreaterThan(0)
    expect(missing(en), 'codes without an entry in i18n/en.ts').toEqual([])
    expect(missing(zhCN), 'codes without an entry in i18n/zh-CN.ts').toEqual([])
    for (const locale of ['en', 'zh-CN'] as const) {
      for (const code of ERROR_CODES) expect(i18n.global.te(errorKey(code), locale), `${locale}: ${code}`).toBe(true)
    }
  })

  it('have no entry for a code the core does not have', () => {
    const known: readonly string[] = ERROR_CODES
    expect(Object.keys(en.errors.codes).filter((code) => !known.includes(code))).toEqual([])
  })

  it('never show the core’s English message in Chinese', () => {
    for (const code of ERROR_CODES) {
      const entry: string | undefined = (zhCN.errors.codes as Record<string, string | undefined>)[code]
      expect(entry ?? '', code).not.toContain('{message}')
    }
  })
})

describe('errorText', () => {
  it('renders a core error from the catalogue in the viewer’s language, with its params', () => {
    const error = { code: 'database_unavailable', message: 'cannot reach mysql://db' } as const
    expect(errorText(error)).toBe('The database is not reachable.')
    applyLocale('zh-CN')
    expect(errorText(error)).toBe('无法连接数据库。')
    expect(errorText({ code: 'invalid_input', message: 'limit must be between 1 and 500', field: 'limit' })).toBe(
      '输入的值无效。',
    )
  })

  it('fills the entry’s placeholders from params, never with the core’s English message', () => {
    expect(errorText({ code: 'invalid_input', message: 'limit must be between 1 and 500' })).toBe(
      'The input was refused: check it and try again.',
    )
    const params = { role: 'viewer', action: 'run_jobs' }
    const withParams = { code: 'forbidden', message: 'a viewer cannot run jobs', params } as const
    expect(errorText(withParams)).toBe('Your role (viewer) cannot run jobs.')
    applyLocale('zh-CN')
    expect(errorText(withParams)).toBe('你的角色（查看者）无权运行任务。')
  })

  it('shows what was thrown as it is for code unknown', () => {
    expect(errorText({ code: 'unknown', message: 'IPC bridge gone' })).toBe('IPC bridge gone')
    expect(errorText({ code: 'unknown', message: '' })).toBe('An unknown error occurred.')
  })
})
