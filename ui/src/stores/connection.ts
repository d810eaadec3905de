import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { toBackendError, useBackend, type BackendError, type ConnectionStatus } from '../backend'
import { subscription } from './coreSubscription'

/** The host (and port) of a server URL, for the status bar; the URL itself when it does not parse. */
export function serverHost(url: string): string {
  try {
    return new URL(url).host || url
  } catch {
    return url
  }
}

/**
 * Where the console works (the embedded core or a server) and its link to it, as the desktop
 * shell reports it: fetched once, then kept from its `connection-state` pushes. Also the sign-in
 * screen's choice of a server, after which the shell restarts the app.
 */
export const useConnectionStore = defineStore('connection', () => {
  const backend = useBackend()

  const status = ref<ConnectionStatus | null>(null)
  const error = ref<BackendError | null>(null)

  const remote = computed(() => status.value?.mode === 'remote')
  const reconnecting = computed(() => status.value?.link.state === 'reconnecting')
  const host = computed(() => (status.value?.server_url ? serverHost(status.value.server_url) : null))

  /** Bumped by every push, so a fetch that started before one cannot overwrite it. */
  let version = 0

  function accept(s: ConnectionStatus): void {
    version++
    status.value = s
    error.value = null
  }

  let running = false
  const pushes = subscription<ConnectionStatus>((cb) => backend.onConnectionState(cb))

  /** Subscribes to the shell's pushes, then asks for the status now. Idempotent. */
  async function start(): Promise<void> {
    if (running) return
    running = true
    const isCurrent = pushes.begin()
    try {
      await pushes.listen(isCurrent, accept)
    } catch (e) {
      if (isCurrent()) error.value = toBackendError(e)
    }
    if (!isCurrent()) return
    const before = version
    try {
      const fetched = await backend.connectionStatus()
      if (isCurrent() && version === before) accept(fetched)
    } catch (e) {
      if (isCurrent()) error.value = toBackendError(e)
    }
  }

  function stop(): void {
    running = false
    pushes.end()
  }

  /**
   * Works against `serverUrl` from now on (null: this computer's embedded core). On success the
   * shell restarts the app; rejects with a BackendError (the URL refused, the server not
   * answering, the server fixed by the configuration) and nothing changes.
   */
  async function choose(serverUrl: string | null): Promise<void> {
    try {
      await backend.serverChoose(serverUrl)
    } catch (e) {
      throw toBackendError(e)
    }
  }

  return { status, error, remote, reconnecting, host, start, stop, choose }
})
