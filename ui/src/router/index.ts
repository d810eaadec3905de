import {
  createRouter,
  createWebHashHistory,
  type RouteRecordRaw,
  type Router,
  type RouterHistory,
} from 'vue-router'
import AccountsView from '../views/AccountsView.vue'
import AuditView from '../views/AuditView.vue'
import JobsView from '../views/JobsView.vue'
import OcrView from '../views/OcrView.vue'
import OrdersView from '../views/OrdersView.vue'
import OverviewView from '../views/OverviewView.vue'

declare module 'vue-router' {
  interface RouteMeta {
    /** Page title; also the text of the page's <h1 data-testid="page-title">. */
    title: string
  }
}

export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'overview', component: OverviewView, meta: { title: 'Overview' } },
  { path: '/jobs', name: 'jobs', component: JobsView, meta: { title: 'Jobs' } },
  { path: '/ocr', name: 'ocr', component: OcrView, meta: { title: 'OCR queue' } },
  { path: '/orders', name: 'orders', component: OrdersView, meta: { title: 'Orders' } },
  { path: '/accounts', name: 'accounts', component: AccountsView, meta: { title: 'Accounts' } },
  { path: '/audit', name: 'audit', component: AuditView, meta: { title: 'Audit' } },
  { path: '/:pathMatch(.*)*', redirect: '/' },
]

/**
 * Hash history by default: the WebView loads a single index.html from the
 * app's own protocol, so there is no server to answer deep links.
 */
export function createAppRouter(history: RouterHistory = createWebHashHistory()): Router {
  const router = createRouter({ history, routes })
  router.afterEach((to) => {
    if (typeof document !== 'undefined' && to.meta.title) {
      document.title = `${to.meta.title} · OpsDeck`
    }
  })
  return router
}
