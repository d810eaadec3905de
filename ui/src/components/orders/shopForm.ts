import { ref, type Ref } from 'vue'
import { toBackendError } from '../../backend'
import { errorText } from '../../errorText'

// What the staff tools' forms (new order, new goods) share: a submit that first shows the form's
// own checks, then asks the core and shows its refusal next to the field it names.

/** Errors by the form's field names; `form` for those that name no field. */
export type FieldErrors<F extends string> = Partial<Record<F | 'form', string>>

export interface ShopForm<F extends string> {
  busy: Ref<boolean>
  errors: Ref<FieldErrors<F>>
  /** Shows `local` (the form's own checks) and stops there if any; else runs `send`. */
  submit(local: FieldErrors<F>, send: () => Promise<void>): Promise<void>
}

/** `fromCore` maps the core's field names (`price_fen`) to the form's (`price`). */
export function useShopForm<F extends string>(fromCore: Readonly<Record<string, F>>): ShopForm<F> {
  const busy = ref(false)
  const errors = ref({}) as Ref<FieldErrors<F>>

  async function submit(local: FieldErrors<F>, send: () => Promise<void>): Promise<void> {
    errors.value = local
    if (Object.keys(local).length > 0) return
    busy.value = true
    try {
      await send()
    } catch (e) {
      const error = toBackendError(e)
      const field: F | 'form' = (error.field !== undefined && error.field !== null && fromCore[error.field]) || 'form'
      errors.value = { [field]: errorText(error) } as FieldErrors<F>
    } finally {
      busy.value = false
    }
  }

  return { busy, errors, submit }
}
