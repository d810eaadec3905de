// A store's subscription to core events (or another channel of the core's, such as sign-in
// results), started by start() and ended by stop(). A stop() that comes while start() is still
// awaiting the core wins: the late subscription is dropped, and `isCurrent()` tells the rest of
// start() to stop writing results.
import type { Backend, CoreEvent } from '../backend'

export interface Subscription<E> {
  /** Starts a new generation; the returned check stays true until stop(). */
  begin(): () => boolean
  /** Subscribes for the generation `isCurrent` belongs to; throws what the backend throws. */
  listen(isCurrent: () => boolean, onEvent: (e: E) => void): Promise<void>
  /** Ends the generation and unsubscribes. */
  end(): void
}

export type CoreSubscription = Subscription<CoreEvent>

/** A subscription to one channel; `subscribe` resolves to the function that unsubscribes. */
export function subscription<E>(subscribe: (cb: (e: E) => void) => Promise<() => void>): Subscription<E> {
  let generation = 0
  let unlisten: (() => void) | null = null
  return {
    begin() {
      const gen = ++generation
      return () => gen === generation
    },
    async listen(isCurrent, onEvent) {
      const off = await subscribe((e) => {
        if (isCurrent()) onEvent(e)
      })
      if (isCurrent()) unlisten = off
      else off()
    },
    end() {
      generation++
      const off = unlisten
      unlisten = null
      off?.()
    },
  }
}

/**
 * A store's subscription to core events, with the one place where a store learns that what it
 * shows may be stale: a `resync` event (the core's stream to this console lost events) or the
 * link to the server coming back after a loss (events sent meanwhile never arrived). Either calls
 * `resync`, which reloads everything the store shows; `onEvent` sees every other event.
 */
export function coreSubscription(backend: Backend, resync: () => void): CoreSubscription {
  const channel = subscription<CoreEvent>(async (cb) => {
    const offEvents = await backend.onCoreEvent(cb)
    // Whether the link was lost since this subscription began: its return means a resync.
    let lost = false
    try {
      const offLink = await backend.onConnectionState((s) => {
        if (s.link.state === 'reconnecting') {
          lost = true
        } else if (lost) {
          lost = false
          cb(RESYNC)
        }
      })
      return () => {
        offEvents()
        offLink()
      }
    } catch (e) {
      offEvents()
      throw e
    }
  })
  return {
    begin: () => channel.begin(),
    listen: (isCurrent, onEvent) => channel.listen(isCurrent, (e) => (e.kind === 'resync' ? resync() : onEvent(e))),
    end: () => channel.end(),
  }
}

const RESYNC: CoreEvent = { kind: 'resync' }
