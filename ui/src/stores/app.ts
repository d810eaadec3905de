import { defineStore } from 'pinia'
import { ref } from 'vue'
import { toBackendError, useBackend, type AppInfo, type BackendError } from '../backend'

/** Static facts about this OpsDeck instance (version, instance id, …). */
export const useAppStore = defineStore('app', () => {
  const backend = useBackend()

  const info = ref<AppInfo | null>(null)
  const error = ref<BackendError | null>(null)
  const loading = ref(false)
  let pending: Promise<void> | null = null

  /** Loads AppInfo once; `force` reloads it (e.g. after an error). */
  function load(force = false): Promise<void> {
    if (pending) return pending
    if (info.value && !force) return Promise.resolve()
    loading.value = true
    pending = (async () => {
      try {
        info.value = await backend.appInfo()
        error.value = null
      } catch (e) {
        error.value = toBackendError(e)
      } finally {
        loading.value = false
        pending = null
      }
    })()
    return pending
  }

  return { info, error, loading, load }
})
