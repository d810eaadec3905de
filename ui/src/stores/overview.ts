import { defineStore } from 'pinia'
import { ref } from 'vue'
import { toBackendError, useBackend, type BackendError, type CoreEvent, type Overview } from '../backend'
import { coreSubscription } from './coreSubscription'

function time(iso: string): number {
  const t = Date.parse(iso)
  return Number.isNaN(t) ? -Infinity : t
}

/**
 * The Overview page's figures: fetched once when the page opens, then replaced by the ones the
 * core pushes every few seconds (`overview` events). The newer of the two wins.
 */
export const useOverviewStore = defineStore('overview', () => {
  const backend = useBackend()

  const data = ref<Overview | null>(null)
  const error = ref<BackendError | null>(null)
  const loading = ref(false)

  let running = false
  const subscription = coreSubscription(backend, () => void load(() => running))

  function accept(next: Overview): void {
    if (data.value === null || time(next.at) >= time(data.value.at)) data.value = next
    error.value = null
  }

  function onEvent(e: CoreEvent): void {
    if (e.kind === 'overview') accept(e.overview)
  }

  /** Subscribes, then fetches the current figures. Idempotent. */
  async function start(): Promise<void> {
    if (running) return
    running = true
    const isCurrent = subscription.begin()
    try {
      await subscription.listen(isCurrent, onEvent)
    } catch (e) {
      if (isCurrent()) error.value = toBackendError(e)
    }
    if (!isCurrent()) return
    await load(isCurrent)
  }

  async function load(isCurrent: () => boolean = () => true): Promise<void> {
    loading.value = true
    try {
      const fetched = await backend.overview()
      if (isCurrent()) accept(fetched)
    } catch (e) {
      if (isCurrent()) error.value = toBackendError(e)
    } finally {
      loading.value = false
    }
  }

  function stop(): void {
    running = false
    subscription.end()
  }

  return { data, error, loading, start, stop, reload: () => load() }
})
