// The core commands the fake answers, by their Tauri names, and which of them act.

/** The core's scheduler commands, by their Tauri names. */
export type SchedulerCommand =
  | 'jobs_list'
  | 'job_kinds'
  | 'job_preview'
  | 'job_create'
  | 'job_update'
  | 'job_pause'
  | 'job_resume'
  | 'job_run_now'
  | 'job_delete'
  | 'runs_list'
  | 'run_stop'
  | 'scheduler_instances'

/** The core's OCR queue commands, by their Tauri names. */
export type OcrCommand =
  | 'ocr_submit'
  | 'ocr_list'
  | 'ocr_get'
  | 'ocr_reveal'
  | 'ocr_retry'
  | 'ocr_purge_dead'
  | 'ocr_cancel'
  | 'ocr_attempts'
  | 'ocr_set_cap'
  | 'ocr_pause'
  | 'ocr_resume'
  | 'ocr_stats'

/** The core's orders commands, by their Tauri names. */
export type OrdersCommand =
  | 'orders_list'
  | 'cancelled_list'
  | 'order_timeline'
  | 'orders_summary'
  | 'orders_activity'
  | 'order_cancel'
  | 'order_check_payment'
  | 'goods_list'
  | 'goods_create'
  | 'order_place'

/** The core's sign-in and accounts commands, by their Tauri names. */
export type AccountsCommand =
  | 'auth_providers'
  | 'auth_session'
  | 'sign_in'
  | 'sign_in_cancel'
  | 'sign_out'
  | 'users_list'
  | 'link_start'
  | 'unlink'
  | 'staff_set_role'
  | 'link_requests_list'
  | 'link_request_resolve'
  | 'sessions_list'
  | 'session_revoke'

/** The Overview page's command. */
export type OverviewCommand = 'overview'

/** The desktop shell's own commands: where the console works. */
export type ConnectionCommand = 'connection_status' | 'server_choose'

export type Command = SchedulerCommand | OcrCommand | OrdersCommand | AccountsCommand | OverviewCommand | ConnectionCommand

/** The commands that act (rather than read), with what the core says a viewer cannot do. */
export const ACTIONS: Partial<Record<Command, string>> = {
  job_create: 'add jobs',
  job_update: 'edit jobs',
  job_pause: 'pause jobs',
  job_resume: 'resume jobs',
  job_run_now: 'run jobs',
  job_delete: 'delete jobs',
  run_stop: 'stop runs',
  ocr_submit: 'submit OCR requests',
  ocr_reveal: 'reveal ID card data',
  ocr_retry: 'retry OCR requests',
  ocr_purge_dead: 'purge dead OCR requests',
  ocr_cancel: 'cancel OCR requests',
  ocr_set_cap: 'change the OCR cap',
  ocr_pause: 'pause the OCR queue',
  ocr_resume: 'resume the OCR queue',
  order_cancel: 'cancel orders',
  order_check_payment: 'check payments',
  goods_create: 'add goods',
  order_place: 'place orders',
  link_start: 'link sign-ins',
  unlink: 'unlink sign-ins',
  link_request_resolve: 'resolve link requests',
}

/** The commands only admins may use, with what the core says others cannot do. */
export const ADMIN_ACTIONS: Partial<Record<Command, string>> = {
  staff_set_role: 'change console roles',
  sessions_list: 'list the staff sessions',
  session_revoke: 'end staff sessions',
}
