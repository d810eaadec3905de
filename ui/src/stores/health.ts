import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { toBackendError, useBackend, type BackendError, type CoreEvent, type HealthReport } from '../backend'
import { coreSubscription } from './coreSubscription'

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
  const subscription = coreSubscription(backend, () => void fetchReport(() => running))

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
    const isCurrent = subscription.begin()

    // Subscribe first so no report pushed while fetching is missed.
    try {
      await subscription.listen(isCurrent, onEvent)
    } catch (e) {
      if (isCurrent()) error.value = toBackendError(e)
    }
    if (!isCurrent()) return
    await fetchReport(isCurrent)
  }

  async function fetchReport(isCurrent: () => boolean): Promise<void> {
    try {
      const fetched = await backend.healthReport()
      if (!isCurrent()) return
      // A pushed report may already be newer than the one fetched.
      if (report.value === null || time(fetched.checked_at) >= time(report.value.checked_at)) {
        report.value = fetched
      }
      error.value = null
    } catch (e) {
      if (isCurrent()) error.value = toBackendError(e)
    }
  }

  function stop(): void {
    running = false
    subscription.end()
  }

  return { report, error, allHealthy, lastCheckedAt, start, stop }
})
