// Usage: what a manual action did is said here, once, over the top of the page (Notices.vue), not
// in a line of the page that stays for minutes. After the action answers, call
// `useNoticesStore().success(t('…'), { link: { to: …, label: t('…') }, key: '…' })` with the
// outcome in words ("Started a run of cleanup") and, where the action has a visible effect, a
// router link to it ("View run" → `{ name: 'jobs', query: { job: '7' } }`; the page takes the
// query with routeFocus.ts); when it is refused, `failure(t('…', { name }), error, { key })` with
// a title naming what failed and the caught error (its sentence comes from the catalogues, its
// code shows on hover). `info(…)` for an outcome that is neither ("Still unpaid"). A success goes
// after SUCCESS_MS (the pointer moving over it, or focus in it, holds the time); an error stays
// until dismissed or replaced. `key` names the action and its target (e.g. `job.run:7`; the
// notice's data-key, for tests): a later notice with the same key replaces the earlier one, so
// retrying after an error clears it. Texts are translated by the caller; the notice keeps them as
// they were said. Errors that belong to a form field stay by the field.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { RouteLocationRaw } from 'vue-router'
import { toBackendError } from '../backend'
import { errorText } from '../errorText'

/** How long a success (or info) notice shows, when nobody holds it. */
export const SUCCESS_MS = 5000
/** At most this many notices at once; the oldest success goes first, then the oldest error. */
export const MAX_NOTICES = 3

export type NoticeKind = 'success' | 'info' | 'error'

/** Where the outcome can be seen: a router link with its words ("View run"). */
export interface NoticeLink {
  to: RouteLocationRaw
  label: string
}

export interface NoticeOptions {
  link?: NoticeLink
  /** A later notice with the same key replaces this one. */
  key?: string
}

export interface Notice {
  id: number
  kind: NoticeKind
  /** The outcome in words. For an error, the error's sentence. */
  text: string
  /** An error's lead ("Could not pause cleanup"). */
  title?: string
  /** An error's code, for whoever reads logs (shown on hover). */
  code?: string
  link?: NoticeLink
  key?: string
}

interface Timer {
  handle: ReturnType<typeof setTimeout> | null
  /** When it goes, while running (ms since the epoch). */
  deadline: number
  /** What is left of its time, while held. */
  remaining: number
}

export const useNoticesStore = defineStore('notices', () => {
  const notices = ref<Notice[]>([])
  const timers = new Map<number, Timer>()
  let nextId = 1

  function dismiss(id: number): void {
    const timer = timers.get(id)
    if (timer?.handle) clearTimeout(timer.handle)
    timers.delete(id)
    notices.value = notices.value.filter((n) => n.id !== id)
  }

  function arm(id: number, ms: number): void {
    const timer: Timer = { handle: null, deadline: Date.now() + ms, remaining: ms }
    timer.handle = setTimeout(() => dismiss(id), ms)
    timers.set(id, timer)
  }

  function push(notice: Omit<Notice, 'id'>): number {
    if (notice.key !== undefined) {
      for (const n of notices.value.filter((n) => n.key === notice.key)) dismiss(n.id)
    }
    const id = nextId++
    notices.value = [...notices.value, { ...notice, id }]
    while (notices.value.length > MAX_NOTICES) {
      const oldest = notices.value.find((n) => n.kind !== 'error') ?? notices.value[0]
      if (oldest) dismiss(oldest.id)
    }
    if (notice.kind !== 'error') arm(id, SUCCESS_MS)
    return id
  }

  /** An action did what was asked. Returns the notice's id. */
  function success(text: string, options: NoticeOptions = {}): number {
    return push({ kind: 'success', text, ...options })
  }

  /** Something worth saying that is neither a success nor an error ("Nothing to retry"). */
  function info(text: string, options: NoticeOptions = {}): number {
    return push({ kind: 'info', text, ...options })
  }

  /** An action was refused or failed: `title` says which, the error says why. Stays until dismissed. */
  function failure(title: string, error: unknown, options: NoticeOptions = {}): number {
    const e = toBackendError(error)
    return push({ kind: 'error', title, text: errorText(e), code: e.code, ...options })
  }

  /** Holds a notice's time while the pointer is over it or focus is in it. */
  function hold(id: number): void {
    const timer = timers.get(id)
    if (!timer?.handle) return
    clearTimeout(timer.handle)
    timer.handle = null
    timer.remaining = Math.max(0, timer.deadline - Date.now())
  }

  /** Lets a held notice's time run again, from what was left. */
  function release(id: number): void {
    const timer = timers.get(id)
    if (!timer || timer.handle) return
    arm(id, timer.remaining)
  }

  function clear(): void {
    for (const n of notices.value) dismiss(n.id)
  }

  return { notices, success, info, failure, dismiss, hold, release, clear }
})
