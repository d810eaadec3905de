import {
  createRouter,
  createWebHashHistory,
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

export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'overview', component: OverviewView, meta: { titleKey: 'nav.overview' } },
  {
    path: '/jobs',
    name: 'jobs',
    component: () => import('../views/JobsView.vue'),
    meta: { titleKey: 'nav.jobs' },
  },
  {
    path: '/ocr',
    name: 'ocr',
    component: () => import('../views/OcrView.vue'),
    meta: { titleKey: 'nav.ocr' },
  },
  {
    path: '/orders',
    name: 'orders',
    component: () => import('../views/OrdersView.vue'),
    meta: { titleKey: 'nav.orders' },
  },
  {
    path: '/accounts',
    name: 'accounts',
    component: () => import('../views/AccountsView.vue'),
    meta: { titleKey: 'nav.accounts' },
  },
  {
    path: '/audit',
    name: 'audit',
    component: () => import('../views/AuditView.vue'),
    meta: { titleKey: 'nav.audit' },
  },
  {
    path: '/settings',
    name: 'settings',
    component: () => import('../views/SettingsView.vue'),
    meta: { titleKey: 'nav.settings' },
  },
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
