// A notice's link (stores/notices.ts) says what to show on the page it opens with a query
// parameter: /jobs?job=7 (the job's runs), /ocr?status=pending, /orders?cancelled=OD123,
// /accounts?user=42. The page takes the parameter once and removes it, so the same link followed
// again, after the page's filters were changed by hand, asks again (a link to the very location
// already shown would do nothing).
import { inject, watch } from 'vue'
import { routeLocationKey, routerKey } from 'vue-router'

/**
 * Calls `take` with the query parameter `name` whenever the route carries it (now, and when a
 * link brings it while the page is shown), then removes it from the route. A page mounted
 * without the router (a unit test of the page alone) has no query: nothing happens.
 */
export function takeQueryParam(name: string, take: (value: string) => void): void {
  const route = inject(routeLocationKey, null)
  const router = inject(routerKey, null)
  if (!route || !router) return
  watch(
    () => route.query[name],
    (value) => {
      if (typeof value !== 'string' || value === '') return
      take(value)
      const rest = { ...route.query }
      delete rest[name]
      void router.replace({ query: rest })
    },
    { immediate: true },
  )
}
