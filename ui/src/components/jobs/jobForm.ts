// The job form's state and how it turns into the core's shapes. Kept out of
// the SFCs so the rules (units, empty = none, JSON args) are plain functions.
import type { JobPolicy, TriggerSpec, TriggerType } from '../../backend'
import { t } from '../../i18n'
import { splitInterval, UNIT_SECONDS, type IntervalUnit } from '../../jobsFormat'
import { localInputValue, normalizeLocal } from '../../zoned'

/** What a number input's v-model holds: a number, or the raw text ('' when empty). */
export type NumberInput = number | string

export interface TriggerState {
  type: TriggerType
  every: NumberInput
  unit: IntervalUnit
  /** Local 'YYYY-MM-DDTHH:MM[:SS]' or ''. */
  start: string
  end: string
  at: string
  expr: string
}

export interface PolicyState {
  misfire: NumberInput
  coalesce: boolean
  maxInstances: NumberInput
  jitter: NumberInput
  /** '' = no timeout */
  timeout: NumberInput
}

export const DEFAULT_POLICY: Readonly<JobPolicy> = {
  misfire_grace_seconds: 60,
  coalesce: true,
  max_instances: 1,
  jitter_seconds: 0,
  timeout_seconds: null,
}

/** How long the form waits after the last edit before asking for a preview. */
export const PREVIEW_DEBOUNCE_MS = 300

export const DEFAULT_CRON = '0 8 * * MON-FRI'

type Result<K extends string, T> =
  | ({ [key in K]: T } & { error?: undefined })
  | ({ [key in K]?: undefined } & { error: string })

/** A form state for `spec`; the other trigger types get sensible starting values. */
export function triggerStateFrom(spec: TriggerSpec | null, zone: string, now: number = Date.now()): TriggerState {
  // A one-shot defaults to the next full hour in the job's zone.
  const nextHour = Math.ceil((now + 60_000) / 3_600_000) * 3_600_000
  const state: TriggerState = {
    type: spec?.type ?? 'date',
    every: 1,
    unit: 'minutes',
    start: '',
    end: '',
    at: localInputValue(zone, nextHour),
    expr: DEFAULT_CRON,
  }
  if (spec?.type === 'interval') {
    const { every, unit } = splitInterval(spec.every_seconds)
    Object.assign(state, { every, unit, start: spec.start ?? '', end: spec.end ?? '' })
  } else if (spec?.type === 'date') {
    state.at = spec.at
  } else if (spec?.type === 'cron') {
    state.expr = spec.expr
  }
  return state
}

/** A whole number from a number input; null when empty or not one. */
export function toInt(v: NumberInput): number | null {
  const n = typeof v === 'number' ? v : v.trim() === '' ? NaN : Number(v)
  return Number.isInteger(n) ? n : null
}

/** `what`: the field's label ("Start", "End"), in the active language. */
function optionalLocal(text: string, what: string): Result<'value', string | null> {
  if (text.trim() === '') return { value: null }
  const norm = normalizeLocal(text)
  return norm ? { value: norm } : { error: t('jobs.form.errors.notLocal', { what }) }
}

/** The TriggerSpec the form describes, or why it cannot be sent yet. */
export function buildTrigger(s: TriggerState): Result<'spec', TriggerSpec> {
  switch (s.type) {
    case 'interval': {
      const n = toInt(s.every)
      if (n === null || n <= 0) return { error: t('jobs.form.errors.every') }
      const start = optionalLocal(s.start, t('jobs.triggerFields.start'))
      if (start.error !== undefined) return { error: start.error }
      const end = optionalLocal(s.end, t('jobs.triggerFields.end'))
      if (end.error !== undefined) return { error: end.error }
      return {
        spec: { type: 'interval', every_seconds: n * UNIT_SECONDS[s.unit], start: start.value, end: end.value },
      }
    }
    case 'date': {
      const at = normalizeLocal(s.at)
      return at ? { spec: { type: 'date', at } } : { error: t('jobs.form.errors.at') }
    }
    case 'cron': {
      const expr = s.expr.trim()
      return expr ? { spec: { type: 'cron', expr } } : { error: t('jobs.form.errors.cron') }
    }
  }
}

export function policyStateFrom(p: JobPolicy): PolicyState {
  return {
    misfire: p.misfire_grace_seconds,
    coalesce: p.coalesce,
    maxInstances: p.max_instances,
    jitter: p.jitter_seconds,
    timeout: p.timeout_seconds ?? '',
  }
}

export function buildPolicy(s: PolicyState): Result<'policy', JobPolicy> {
  const misfire = toInt(s.misfire)
  if (misfire === null || misfire < 0) return { error: t('jobs.form.errors.misfire') }
  const max = toInt(s.maxInstances)
  if (max === null || max < 1) return { error: t('jobs.form.errors.maxInstances') }
  const jitter = toInt(s.jitter)
  if (jitter === null || jitter < 0) return { error: t('jobs.form.errors.jitter') }
  let timeout: number | null = null
  if (String(s.timeout).trim() !== '') {
    timeout = toInt(s.timeout)
    if (timeout === null || timeout < 1) return { error: t('jobs.form.errors.timeout') }
  }
  return {
    policy: {
      misfire_grace_seconds: misfire,
      coalesce: s.coalesce,
      max_instances: max,
      jitter_seconds: jitter,
      timeout_seconds: timeout,
    },
  }
}

/** Args as shown in the textarea. */
export function argsText(args: unknown): string {
  if (args === undefined) return '{}'
  try {
    return JSON.stringify(args, null, 2) ?? '{}'
  } catch {
    return '{}'
  }
}

export function parseArgs(text: string): Result<'args', unknown> {
  if (text.trim() === '') return { error: t('jobs.form.errors.argsEmpty', { example: '{}' }) }
  try {
    return { args: JSON.parse(text) as unknown }
  } catch (e) {
    return { error: t('jobs.form.errors.argsInvalid', { message: e instanceof Error ? e.message : String(e) }) }
  }
}

/** Places in the form an error can be shown next to. */
export type FieldSlot = 'name' | 'kind' | 'trigger' | 'timezone' | 'policy' | 'args' | 'count'

const TRIGGER_FIELDS = ['trigger', 'every_seconds', 'expr', 'at', 'start', 'end']
const POLICY_FIELDS = ['policy', 'misfire_grace_seconds', 'coalesce', 'max_instances', 'jitter_seconds', 'timeout_seconds']
const OWN_FIELDS = ['name', 'kind', 'timezone', 'args', 'count']

/** The form slot for an error's `field` ('trigger', 'policy.max_instances', …); null: show it at the top. */
export function slotOf(field: string | null | undefined): FieldSlot | null {
  if (!field) return null
  const head = field.split(/[.[]/)[0] ?? ''
  if (TRIGGER_FIELDS.includes(head)) return 'trigger'
  if (POLICY_FIELDS.includes(head)) return 'policy'
  return OWN_FIELDS.includes(head) ? (head as FieldSlot) : null
}
