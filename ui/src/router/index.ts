import {
  createRouter,
  createWebHashHistory,
  type RouteRecordSingleView,
  type RouteRecordRaw,
  type Router,
  type RouterHistory,
} from 'vue-router'
import { t } from '../i18n'
// The overview is the first page: it comes with the main bundle. The other pages load when first
// visited (from the app's own files, so at once), which keeps the main bundle small.
import OverviewView from '../views/OverviewView.vue'

declare module 'vue-router' {
  interface RouteMeta {
    /** The message key of the page's title: the text of its <h1 data-testid="page-title"> and nav link. */
    titleKey?: string
  }
}

/** A page loaded on first visit, titled by its nav message `nav.<name>`. */
function page(path: string, name: string, component: RouteRecordSingleView['component']): RouteRecordRaw {
  return { path, name, component, meta: { titleKey: `nav.${name}` } }
}

export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'overview', component: OverviewView, meta: { titleKey: 'nav.overview' } },
  // Literal import() calls: Vite makes a chunk of each.
  page('/jobs', 'jobs', () => import('../views/JobsView.vue')),
  page('/ocr', 'ocr', () => import('../views/OcrView.vue')),
  page('/orders', 'orders', () => import('../views/OrdersView.vue')),
  page('/accounts', 'accounts', () => import('../views/AccountsView.vue')),
  page('/audit', 'audit', () => import('../views/AuditView.vue')),
  page('/settings', 'settings', () => import('../views/SettingsView.vue')),
  { path: '/:pathMatch(.*)*', redirect: '/' },
]

/** The window title for a page, in the active language: "Jobs · OpsDeck"; null without a title. */
export function pageTitle(titleKey: string | undefined): string | null {
  return titleKey ? `${t(titleKey)} · OpsDeck` : null
}

/**
 * Hash history by default: the WebView loads a single index.html from the
 * app's own protocol, so there is no server to answer deep links.
 */
export function createAppRouter(history: RouterHistory = createWebHashHistory()): Router {
  const router = createRouter({ history, routes })
  router.afterEach((to) => {
    const title = pageTitle(to.meta.titleKey)
    if (typeof document !== 'undefined' && title) document.title = title
  })
  return router
}
