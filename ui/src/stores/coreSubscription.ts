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

export function coreSubscription(backend: Backend): CoreSubscription {
  return subscription((cb) => backend.onCoreEvent(cb))
}
