import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { toBackendError, useBackend, type BackendError, type CoreEvent, type HealthReport } from '../backend'

function time(iso: string): number {
  const t = Date.parse(iso)
  return Number.isNaN(t) ? -Infinity : t
}

/** The latest health of the core's dependencies, kept live from core events. */
export const useHealthStore = defineStore('health', () => {
  const backend = useBackend()

  const report = ref<HealthReport | null>(null)
  const error = ref<BackendError | null>(null)

  const allHealthy = computed(
    () => report.value?.database.status === 'ok' && report.value.redis.status === 'ok',
  )
  const lastCheckedAt = computed(() => report.value?.checked_at ?? null)

  let running = false
  // Bumped by stop(), so a start() still awaiting the core does not keep a
  // subscription or write a result after it.
  let generation = 0
  let unlisten: (() => void) | null = null

  function onEvent(e: CoreEvent): void {
    if (e.kind === 'health') {
      report.value = e.report
      error.value = null
    }
  }

  /** Subscribes to core events, then fetches the current report once. Idempotent. */
  async function start(): Promise<void> {
    if (running) return
    running = true
    const gen = ++generation

    // Subscribe first so no report pushed while fetching is missed.
    try {
      const off = await backend.onCoreEvent(onEvent)
      if (gen !== generation) {
        off()
        return
      }
      unlisten = off
    } catch (e) {
      if (gen === generation) error.value = toBackendError(e)
    }

    try {
      const initial = await backend.healthReport()
      if (gen !== generation) return
      // A pushed report may already be newer than the one fetched.
      if (report.value === null || time(initial.checked_at) >= time(report.value.checked_at)) {
        report.value = initial
      }
      error.value = null
    } catch (e) {
      if (gen === generation) error.value = toBackendError(e)
    }
  }

  function stop(): void {
    running = false
    generation++
    const off = unlisten
    unlisten = null
    off?.()
  }

  return { report, error, allHealthy, lastCheckedAt, start, stop }
})
