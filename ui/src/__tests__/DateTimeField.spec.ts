import { afterEach, describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import DateTimeField from '../components/DateTimeField.vue'
import { dateFieldText, parseDateText } from '../dateText'
import i18n, { applyLocale } from '../i18n'

afterEach(() => applyLocale('en'))

describe('parseDateText', () => {
  const local = (text: string) => {
    const r = parseDateText(text)
    return r.ok ? r.local : r.reason
  }

  it('reads the fields’ own format and its usual variants', () => {
    expect(local('2026-01-10 08:00')).toBe('2026-01-10T08:00')
    expect(local('  2026-01-10   08:00:30 ')).toBe('2026-01-10T08:00:30')
    expect(local('2026-01-10T08:00')).toBe('2026-01-10T08:00') // what datetime-local gave
    expect(local('2026/1/5 8:05')).toBe('2026-01-05T08:05')
    expect(local('2026.01.05 08:05')).toBe('2026-01-05T08:05')
    expect(local('2026-01-10')).toBe('2026-01-10T00:00') // a date alone: its midnight
  })

  it('reads what the pages show, in Chinese and in English', () => {
    expect(local('2026年1月10日 03:00:00')).toBe('2026-01-10T03:00:00')
    expect(local('2026年1月10日')).toBe('2026-01-10T00:00')
    expect(local('２０２６－０１－１０　０８：００')).toBe('2026-01-10T08:00') // full-width, from an input method
    expect(local('Jan 10, 2026, 03:00:00')).toBe('2026-01-10T03:00:00')
    expect(local('September 3, 2026 14:30')).toBe('2026-09-03T14:30')
  })

  it('refuses garbage and ambiguous or impossible dates', () => {
    for (const text of ['garbage', '01/10/2026 08:00', '10.01.2026', '2026-01', '2026-01-10 8', 'Foo 10, 2026', '2026-01-10 08:00 pm']) {
      expect(local(text), text).toBe('format')
    }
    for (const text of ['2026-02-29 08:00', '2026-04-31', '2026-13-01', '2026-01-10 24:00', '2026-01-10 08:60', '2026-00-10']) {
      expect(local(text), text).toBe('range')
    }
    expect(local('2028-02-29 08:00')).toBe('2028-02-29T08:00') // a leap year
  })

  it('writes an instant as the fields do, in the zone', () => {
    expect(dateFieldText('2026-01-10T07:00:00Z', 'Europe/Berlin')).toBe('2026-01-10 08:00')
    expect(dateFieldText('2026-01-10T07:00:00Z', 'Asia/Shanghai')).toBe('2026-01-10 15:00')
    expect(dateFieldText('not a date', 'UTC')).toBeNull()
  })
})

describe('DateTimeField', () => {
  function mountField(props: { modelValue?: string | null; zone?: string } = {}) {
    const w = mount(DateTimeField, {
      props: { modelValue: null, zone: 'Europe/Berlin', label: 'From', testid: 'from', ...props },
      global: { plugins: [i18n] },
    })
    const emitted = () => (w.emitted('update:modelValue') ?? []).map((e) => e[0])
    return { w, input: w.get('[data-testid="from"]'), emitted }
  }

  it('is a labelled text field showing the format, not a datetime-local', () => {
    const { w, input } = mountField()
    expect(input.attributes('type')).toBe('text')
    expect(input.attributes('placeholder')).toBe('yyyy-MM-dd HH:mm')
    expect(w.get('label').text()).toBe('From')
    expect(w.get('label').attributes('for')).toBe(input.attributes('id'))
    expect(input.attributes('title')).toBe('yyyy-MM-dd HH:mm, in Europe/Berlin')
  })

  it('emits the typed wall time as an instant in its zone, across DST, and null when emptied', async () => {
    const { input, emitted } = mountField()
    await input.setValue('2026-01-10 08:00')
    await input.setValue('2026-07-01 00:30')
    await input.setValue('')
    expect(emitted()).toEqual(['2026-01-10T08:00:00+01:00', '2026-07-01T00:30:00+02:00', null])
  })

  it('in Chinese: reads the Chinese date, and says what is wrong in Chinese', async () => {
    applyLocale('zh-CN')
    const { w, input, emitted } = mountField({ zone: 'Asia/Shanghai' })
    expect(input.attributes('placeholder')).toBe('yyyy-MM-dd HH:mm')
    await input.setValue('2026年1月10日 08:00')
    expect(emitted()).toEqual(['2026-01-10T08:00:00+08:00'])

    await input.setValue('明天')
    await input.trigger('change')
    expect(w.get('[data-testid="from-error"]').text()).toBe('无法识别的日期时间：请按 yyyy-MM-dd HH:mm 格式填写，例如 2026-01-31 08:00。')
  })

  it('refuses garbage with an inline error once the field is left, keeping the last good value', async () => {
    const { w, input, emitted } = mountField()
    await input.setValue('2026-01-10 08:00')
    // Still typing (setValue would also leave the field): no error yet, nothing emitted.
    ;(input.element as HTMLInputElement).value = '2026-01-1x'
    await input.trigger('input')
    expect(w.find('[data-testid="from-error"]').exists()).toBe(false)
    await input.trigger('change')
    const error = w.get('[data-testid="from-error"]')
    expect(error.text()).toBe('Not a date and time: write it as yyyy-MM-dd HH:mm, e.g. 2026-01-31 08:00.')
    expect(error.attributes('role')).toBe('alert')
    expect(input.attributes('aria-invalid')).toBe('true')
    expect(input.attributes('aria-describedby')).toBe(error.attributes('id'))
    expect(emitted()).toEqual(['2026-01-10T08:00:00+01:00'])
    expect(w.emitted('invalid')).toEqual([[true]])

    ;(input.element as HTMLInputElement).value = '2026-02-30 08:00'
    await input.trigger('input')
    await input.trigger('keydown', { key: 'Enter' })
    expect(w.get('[data-testid="from-error"]').text()).toBe('There is no such day or time: 2026-02-30 08:00.')

    // Corrected: the error goes as it is typed.
    await input.setValue('2026-02-28 08:00')
    expect(w.find('[data-testid="from-error"]').exists()).toBe(false)
    expect(input.attributes('aria-invalid')).toBeUndefined()
    expect(emitted()).toEqual(['2026-01-10T08:00:00+01:00', '2026-02-28T08:00:00+01:00'])
    expect(w.emitted('invalid')).toEqual([[true], [false]])
  })

  it('shows a value set from outside in its zone, and clears with it', async () => {
    const { w, input } = mountField({ modelValue: '2026-01-10T07:00:00Z' })
    expect((input.element as HTMLInputElement).value).toBe('2026-01-10 08:00')
    await w.setProps({ modelValue: null })
    expect((input.element as HTMLInputElement).value).toBe('')
    expect(w.emitted('update:modelValue')).toBeUndefined()
  })

  it('reads the same wall time again when the zone arrives', async () => {
    const { w, input, emitted } = mountField({ zone: 'UTC' })
    await input.setValue('2026-01-10 08:00')
    await w.setProps({ zone: 'Asia/Shanghai' })
    expect(emitted()).toEqual(['2026-01-10T08:00:00+00:00', '2026-01-10T08:00:00+08:00'])
  })
})
