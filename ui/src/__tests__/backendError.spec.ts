import { describe, expect, it } from 'vitest'
import { toBackendError } from '../backend'

describe('toBackendError', () => {
  it('keeps the core’s { code, message } as is', () => {
    expect(toBackendError({ code: 'database_unavailable', message: 'database is locked' })).toEqual({
      code: 'database_unavailable',
      message: 'database is locked',
    })
  })

  it('keeps the field a core error names, and drops other extra fields', () => {
    expect(toBackendError({ code: 'invalid_input', message: 'limit too large', field: 'limit', extra: 1 })).toStrictEqual({
      code: 'invalid_input',
      message: 'limit too large',
      field: 'limit',
    })
    // No `field` key at all when there is none (or it is not a name).
    for (const field of [undefined, null, '', 42]) {
      expect(toBackendError({ code: 'invalid_input', message: 'no', field })).toStrictEqual({
        code: 'invalid_input',
        message: 'no',
      })
    }
    expect(toBackendError({ code: 'invalid_input', field: 'trigger' })).toStrictEqual({
      code: 'invalid_input',
      message: 'The core reported an error (invalid_input).',
      field: 'trigger',
    })
  })

  it('turns an Error into its message', () => {
    expect(toBackendError(new TypeError('x is undefined'))).toEqual({ code: 'unknown', message: 'x is undefined' })
  })

  it('turns a string (Tauri’s Result<_, String>) into the message', () => {
    expect(toBackendError('command audit_list not found')).toEqual({
      code: 'unknown',
      message: 'command audit_list not found',
    })
  })

  it('copes with a code but no message, and with nothing useful at all', () => {
    expect(toBackendError({ code: 'request_timeout' })).toEqual({
      code: 'request_timeout',
      message: 'The core reported an error (request_timeout).',
    })
    for (const e of [undefined, null, 42, '', {}]) {
      const out = toBackendError(e)
      expect(out.code).toBe('unknown')
      expect(out.message).toBe('An unknown error occurred.')
    }
  })
})
