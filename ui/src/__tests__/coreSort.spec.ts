// Sortable headers of the paged lists ask the core for the sort (the rows are a page of the
// whole sorted list): orders, cancelled orders, users.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, RouterLinkStub, type VueWrapper } from '@vue/test-utils'
import AccountsView from '../views/AccountsView.vue'
import OrdersView from '../views/OrdersView.vue'
import { backendPlugins, cancelledOrder, FakeBackend, order, userView } from './fakeBackend'

let backend: FakeBackend
let wrapper: VueWrapper | undefined

async function mountView(view: typeof OrdersView | typeof AccountsView) {
  const { plugins } = backendPlugins(backend)
  wrapper = mount(view, { global: { plugins, stubs: { RouterLink: RouterLinkStub } }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

/** Clicks the header of `key` in the table `testid`. */
async function sortBy(w: VueWrapper, table: string, key: string) {
  await w.get(`[data-testid="${table}-table"] [data-sort-key="${key}"]`).trigger('click')
  await flushPromises()
}

const lastQuery = (cmd: 'orders_list' | 'cancelled_list' | 'users_list') =>
  (backend.callsTo(cmd).slice(-1)[0] as { query: Record<string, unknown> }).query
const ariaSort = (w: VueWrapper, table: string, key: string) =>
  w.get(`[data-testid="${table}-table"] [data-sort-key="${key}"]`).element.closest('th')?.getAttribute('aria-sort')

beforeEach(() => {
  backend = new FakeBackend()
  backend.orders = Array.from({ length: 60 }, (_, i) =>
    order({ id: i + 1, order_no: `OD-${i + 1}`, expires_at: new Date(Date.now() + (i + 1) * 60_000).toISOString() }),
  )
  backend.cancelledOrders = [cancelledOrder({ order_id: 9, order_no: 'OD-GONE' })]
  backend.users = [userView({ id: 1, username: 'alice' }), userView({ id: 2, username: 'bob' })]
})

afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
  vi.useRealTimers()
})

describe('Sorting on the core', () => {
  it('orders: a header asks for its sort from the first page, the second click descending', async () => {
    const w = await mountView(OrdersView)
    expect(lastQuery('orders_list')).toEqual({ offset: 0, limit: 50, status: 'pending' })

    await sortBy(w, 'orders', 'amount')
    expect(lastQuery('orders_list')).toEqual({ offset: 0, limit: 50, status: 'pending', sort: 'amount', desc: false })
    expect(ariaSort(w, 'orders', 'amount')).toBe('ascending')
    await sortBy(w, 'orders', 'amount')
    expect(lastQuery('orders_list')).toMatchObject({ sort: 'amount', desc: true })
    expect(ariaSort(w, 'orders', 'amount')).toBe('descending')
    // The Expires column sorts by the deadline; the creation time newest first.
    await sortBy(w, 'orders', 'expires')
    expect(lastQuery('orders_list')).toMatchObject({ sort: 'expires_at', desc: false })
    await sortBy(w, 'orders', 'created_at')
    expect(lastQuery('orders_list')).toMatchObject({ sort: 'created_at', desc: true })
    // A column the core cannot sort by has no sort button.
    expect(w.find('[data-testid="orders-table"] [data-sort-key="items"]').exists()).toBe(false)
    // The filters keep the sort.
    await w.get('[data-testid="orders-filter-status"]').setValue('paid')
    await flushPromises()
    expect(lastQuery('orders_list')).toMatchObject({ status: 'paid', sort: 'created_at', desc: true, offset: 0 })
  })

  it('cancelled orders: the cancel time newest first on the first click', async () => {
    const w = await mountView(OrdersView)
    await w.get('[data-testid="orders-tab-cancelled"]').trigger('click')
    await sortBy(w, 'cancelled', 'cancelled_at')
    expect(lastQuery('cancelled_list')).toEqual({ offset: 0, limit: 50, sort: 'cancelled_at', desc: true })
    await sortBy(w, 'cancelled', 'user_id')
    expect(lastQuery('cancelled_list')).toMatchObject({ sort: 'user_id', desc: false })
  })

  it('users: by name, mobile or creation', async () => {
    const w = await mountView(AccountsView)
    await sortBy(w, 'users', 'user')
    expect(lastQuery('users_list')).toEqual({ search: null, offset: 0, limit: 50, sort: 'username', desc: false })
    await sortBy(w, 'users', 'created_at')
    expect(lastQuery('users_list')).toMatchObject({ sort: 'created_at', desc: true })
    await sortBy(w, 'users', 'mobile')
    expect(lastQuery('users_list')).toMatchObject({ sort: 'mobile', desc: false })
  })
})
