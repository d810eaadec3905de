import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { defineComponent, h, nextTick, ref, type Component, type PropType } from 'vue'
import DataTable from '../components/DataTable.vue'
import type { Column, RowAction, SortState } from '../components/dataTable'
import { columnWidths, fittingColumns, sortRows } from '../components/dataTable'

// The one table of the lists: sorting (the event, aria-sort, sorting held rows), the hover text
// of truncated cells, the row actions collapsing into an accessible "⋯" menu when the table is
// too narrow for them, row opening, the empty / loading states and the pager.

interface Item {
  id: number
  name: string
  note: string
  count: number | null
}

const ITEMS: Item[] = [
  { id: 1, name: 'Tea mug', note: 'A rather long note that does not fit its column', count: 12 },
  { id: 2, name: 'apple', note: 'short', count: 3 },
  { id: 3, name: 'Banana', note: '', count: null },
]

const COLUMNS: Column<Item>[] = [
  { key: 'id', label: 'ID', width: 60, sortable: true, align: 'end', testid: 'item-id' },
  { key: 'name', label: 'Name', minWidth: 100, sortable: true, testid: 'item-name' },
  { key: 'note', label: 'Note', minWidth: 100, truncate: true, testid: 'item-note' },
  {
    key: 'count',
    label: 'Count',
    width: 70,
    sortable: true,
    descFirst: true,
    sortValue: (i) => i.count,
    truncate: true,
    title: (i) => `count of ${i.name}`,
  },
]

/** Every call of every action: `<key>:<id>`. */
let ran: string[]

function actionsOf(item: Item): RowAction[] {
  return [
    { key: 'check', label: 'Check now', primary: true, testid: 'item-check', run: () => ran.push(`check:${item.id}`) },
    { key: 'edit', label: 'Edit', testid: 'item-edit', run: () => ran.push(`edit:${item.id}`) },
    { key: 'drop', label: 'Drop', danger: true, testid: 'item-drop', disabled: item.id === 2, run: () => ran.push(`drop:${item.id}`) },
  ]
}

/** A list using the table, holding the sort as a parent does (v-model:sort). */
const Host = defineComponent({
  props: {
    rows: { type: Array as PropType<Item[]>, default: () => ITEMS },
    loaded: { type: Boolean, default: true },
    sortLocally: { type: Boolean, default: false },
    withActions: { type: Boolean, default: false },
  },
  emits: ['sorted', 'opened', 'page'],
  setup(props, { emit }) {
    const sort = ref<SortState | null>(null)
    return () =>
      // A generic SFC does not type through h(); the template's checks cover the props.
      h(DataTable as Component, {
        columns: COLUMNS,
        rows: props.rows,
        rowKey: (i: Item) => i.id,
        testid: 'items',
        loaded: props.loaded,
        empty: 'No items yet.',
        sort: sort.value,
        sortLocally: props.sortLocally,
        clickable: true,
        actions: props.withActions ? actionsOf : undefined,
        actionsLabel: (i: Item) => `Actions for ${i.name}`,
        rowAttrs: (i: Item) => ({ 'data-testid': 'item-row', 'data-id': i.id }),
        pager: { offset: 0, total: 120, pageSize: 50, loading: false, none: 'No items', testid: 'items-page' },
        'onUpdate:sort': (s: SortState) => {
          sort.value = s
          emit('sorted', s)
        },
        onOpen: (i: Item) => emit('opened', i.id),
        onPage: (offset: number) => emit('page', offset),
      })
  },
})

let wrapper: VueWrapper | undefined

function mountHost(props: Record<string, unknown> = {}) {
  wrapper = mount(Host, { props, attachTo: document.body })
  return wrapper
}

const header = (w: VueWrapper, key: string) => w.get(`th:has([data-sort-key="${key}"])`)
const lastSort = (w: VueWrapper) => w.emitted('sorted')?.slice(-1)[0]
const rowIds = (w: VueWrapper) => w.findAll('[data-testid="item-row"]').map((r) => Number(r.attributes('data-id')))

beforeEach(() => {
  ran = []
})
afterEach(() => {
  wrapper?.unmount()
  wrapper = undefined
  vi.unstubAllGlobals()
})

describe('sorting', () => {
  it('a header click asks for its column ascending, the next click descending; aria-sort follows', async () => {
    const w = mountHost()
    expect(header(w, 'name').attributes('aria-sort')).toBe('none')
    expect(w.get('th:nth-child(3)').attributes('aria-sort')).toBeUndefined() // Note: not sortable

    await w.get('[data-sort-key="name"]').trigger('click')
    expect(lastSort(w)).toEqual([{ key: 'name', desc: false }])
    expect(header(w, 'name').attributes('aria-sort')).toBe('ascending')
    expect(header(w, 'id').attributes('aria-sort')).toBe('none')

    await w.get('[data-sort-key="name"]').trigger('click')
    expect(lastSort(w)).toEqual([{ key: 'name', desc: true }])
    expect(header(w, 'name').attributes('aria-sort')).toBe('descending')

    // Another column starts over; a count column starts with the largest.
    await w.get('[data-sort-key="count"]').trigger('click')
    expect(lastSort(w)).toEqual([{ key: 'count', desc: true }])
    expect(header(w, 'count').attributes('aria-sort')).toBe('descending')
    expect(header(w, 'name').attributes('aria-sort')).toBe('none')
  })

  it('a paged list only hears the sort; rows stay in the order given', async () => {
    const w = mountHost()
    await w.get('[data-sort-key="name"]').trigger('click')
    expect(rowIds(w)).toEqual([1, 2, 3])
  })

  it('sortLocally sorts the rows held: words ignoring case, numbers as numbers, empty ones last', async () => {
    const w = mountHost({ sortLocally: true })
    await w.get('[data-sort-key="name"]').trigger('click')
    expect(rowIds(w)).toEqual([2, 3, 1]) // apple, Banana, Tea mug
    await w.get('[data-sort-key="name"]').trigger('click')
    expect(rowIds(w)).toEqual([1, 3, 2])
    await w.get('[data-sort-key="count"]').trigger('click')
    expect(rowIds(w)).toEqual([1, 2, 3]) // 12, 3, then none
    await w.get('[data-sort-key="count"]').trigger('click')
    expect(rowIds(w)).toEqual([2, 1, 3]) // 3, 12, still none last
  })

  it('sortRows is stable and leaves the input alone', () => {
    const rows = [
      { id: 1, name: 'b', note: '', count: 1 },
      { id: 2, name: 'a', note: '', count: 1 },
      { id: 3, name: 'c', note: '', count: 1 },
    ]
    expect(sortRows(rows, COLUMNS, { key: 'count', desc: false }).map((r) => r.id)).toEqual([1, 2, 3])
    expect(sortRows(rows, COLUMNS, { key: 'name', desc: false }).map((r) => r.id)).toEqual([2, 1, 3])
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3])
  })
})

describe('cells', () => {
  it('a truncated cell carries its whole text (or the column title) on hover; others do not', () => {
    const w = mountHost()
    const first = w.get('[data-testid="item-row"][data-id="1"]')
    const note = first.get('[data-testid="item-note"]')
    expect(note.attributes('title')).toBe('A rather long note that does not fit its column')
    expect(note.classes()).toContain('dt-truncate')
    expect(first.get('td:nth-child(4)').attributes('title')).toBe('count of Tea mug')
    expect(first.get('[data-testid="item-name"]').attributes('title')).toBeUndefined()
    // Headers never wrap: their words are their hover text.
    expect(w.get('thead th:nth-child(2)').attributes('title')).toBe('Name')
  })

  it('fixed layout: declared widths on the columns, a least width for the whole table', () => {
    const w = mountHost()
    const table = w.get('[data-testid="items-table"]')
    expect(table.classes()).toContain('dt')
    expect(w.findAll('col').map((c) => c.attributes('style') ?? '')).toEqual(['width: 60px;', '', '', 'width: 70px;'])
    expect(table.attributes('style')).toContain('min-width: 330px') // 60 + 100 + 100 + 70
  })
})

describe('narrow tables', () => {
  it('leave out optional columns, the highest first, only as far as needed', () => {
    const columns: Column<Item>[] = [
      { key: 'id', label: 'ID', width: 60 },
      { key: 'name', label: 'Name', minWidth: 100 },
      { key: 'created', label: 'Created', width: 150, optional: 2 },
      { key: 'seen', label: 'Last seen', width: 150, optional: 1 },
    ]
    const keys = (available: number | null, reserved = 0) => fittingColumns(columns, available, reserved).map((c) => c.key)
    expect(keys(null)).toEqual(['id', 'name', 'created', 'seen']) // not measured: all
    expect(keys(460)).toEqual(['id', 'name', 'created', 'seen'])
    expect(keys(459)).toEqual(['id', 'name', 'seen']) // Created goes first
    expect(keys(459, 150)).toEqual(['id', 'name']) // room kept for the actions
    expect(keys(100)).toEqual(['id', 'name']) // required columns stay: the table scrolls
  })

  it('give spare width to a column up to its ideal width first, then in proportion', () => {
    const columns: Column<Item>[] = [
      { key: 'no', label: 'No', minWidth: 120, idealWidth: 200 },
      { key: 'amount', label: 'Amount', width: 90 },
      { key: 'items', label: 'Items', minWidth: 100 },
    ]
    expect(columnWidths(columns, 310, 0)).toEqual([120, 90, 100]) // just the least widths
    expect(columnWidths(columns, 350, 0)).toEqual([160, 90, 100]) // towards the ideal width
    expect(columnWidths(columns, 350, 40)).toEqual([120, 90, 100]) // the actions' room is kept
    // Ideal, then the rest to the column without an ideal width (it can use it).
    expect(columnWidths(columns, 610, 0)).toEqual([200, 90, 320])
    const both = columns.map((c) => (c.key === 'items' ? { ...c, idealWidth: 150 } : c))
    expect(columnWidths(both, 610, 0)).toEqual([292, 90, 227]) // both ideal: the rest as 120:100
    // Optional columns give way to a column's ideal width.
    const withKind: Column<Item>[] = [...columns, { key: 'kind', label: 'Kind', width: 70, optional: 1 }]
    expect(fittingColumns(withKind, 459, 0).map((c) => c.key)).toEqual(['no', 'amount', 'items'])
    expect(fittingColumns(withKind, 460, 0).map((c) => c.key)).toEqual(['no', 'amount', 'items', 'kind'])
  })
})

describe('rows', () => {
  it('a click or Enter on a row opens it; a click on its actions does not', async () => {
    const w = mountHost({ withActions: true })
    const second = w.get('[data-testid="item-row"][data-id="2"]')
    expect(second.attributes('tabindex')).toBe('0')
    await second.trigger('click')
    await second.trigger('keydown', { key: 'Enter' })
    await second.get('[data-testid="item-check"]').trigger('click')
    expect(w.emitted('opened')).toEqual([[2], [2]])
    expect(ran).toEqual(['check:2'])
  })

  it('loading, then the empty state with its words', async () => {
    const w = mountHost({ rows: [], loaded: false })
    expect(w.find('[data-testid="items-loading"]').text()).toBe('Loading…')
    expect(w.find('[data-testid="items-empty"]').exists()).toBe(false)
    await w.setProps({ loaded: true })
    expect(w.find('[data-testid="items-loading"]').exists()).toBe(false)
    expect(w.get('[data-testid="items-empty"]').text()).toBe('No items yet.')
    expect(w.find('[data-testid="items-table"]').exists()).toBe(false)
  })

  it('the pager under the table emits the page asked for', async () => {
    const w = mountHost()
    expect(w.get('[data-testid="items-page-range"]').text()).toBe('1–3 of 120')
    await w.get('[data-testid="items-page-next"]').trigger('click')
    expect(w.emitted('page')).toEqual([[50]])
  })
})

describe('row actions', () => {
  // jsdom lays nothing out: the table's width and the buttons' are given here. The measured
  // lines: all three buttons 200 px, the primary with "⋯" 110 px, "⋯" alone 30 px.
  let tableWidth = 0
  const WIDTHS: Record<string, number> = { inline: 200, primary: 110, menu: 30 }

  beforeEach(() => {
    vi.spyOn(HTMLElement.prototype, 'offsetWidth', 'get').mockImplementation(function (this: HTMLElement) {
      return WIDTHS[this.dataset.layout ?? ''] ?? 0
    })
    vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockImplementation(function (this: HTMLElement) {
      return this.classList.contains('table-wrap') ? tableWidth : 0
    })
    vi.stubGlobal(
      'ResizeObserver',
      class {
        observe() {}
        disconnect() {}
      },
    )
  })
  afterEach(() => vi.restoreAllMocks())

  const inlineTestids = (w: VueWrapper, id: number) =>
    w
      .get(`[data-testid="item-row"][data-id="${id}"] .row-actions`)
      .findAll(':scope > button')
      .map((b) => b.attributes('data-testid'))

  it('all inline while they fit beside the columns', async () => {
    tableWidth = 600 // columns 330 + actions 200 + padding 16
    const w = mountHost({ withActions: true })
    await flushPromises()
    expect(w.get('[data-testid="items-table"]').attributes('data-actions-layout')).toBe('inline')
    expect(inlineTestids(w, 1)).toEqual(['item-check', 'item-edit', 'item-drop'])
    expect(w.find('[data-testid="row-actions-more"]').exists()).toBe(false)
    // The measuring copies carry no test ids and cannot be reached.
    const measurer = w.get('.dt-measure')
    expect(measurer.attributes('aria-hidden')).toBe('true')
    expect(measurer.find('[data-testid]').exists()).toBe(false)
  })

  it('narrower: the primary stays, the rest go into the "⋯" menu, which runs them', async () => {
    tableWidth = 500 // 330 + 110 + 16 fits, 330 + 200 + 16 does not
    const w = mountHost({ withActions: true })
    await flushPromises()
    expect(w.get('[data-testid="items-table"]').attributes('data-actions-layout')).toBe('primary')
    expect(inlineTestids(w, 1)).toEqual(['item-check', 'row-actions-more'])
    const row = w.get('[data-testid="item-row"][data-id="1"]')
    const more = row.get('[data-testid="row-actions-more"]')
    expect(more.attributes('aria-haspopup')).toBe('menu')
    expect(more.attributes('aria-expanded')).toBe('false')
    expect(more.attributes('aria-label')).toBe('Actions for Tea mug')
    expect(row.find('[data-testid="item-edit"]').exists()).toBe(false)

    await more.trigger('click')
    await nextTick()
    expect(more.attributes('aria-expanded')).toBe('true')
    const menu = row.get('[role="menu"]')
    const items = menu.findAll('[role="menuitem"]')
    expect(items.map((i) => [i.attributes('data-testid'), i.text()])).toEqual([
      ['item-edit', 'Edit'],
      ['item-drop', 'Drop'],
    ])
    expect(document.activeElement).toBe(items[0]?.element) // focus goes into the menu
    await row.get('[data-testid="item-drop"]').trigger('click')
    expect(ran).toEqual(['drop:1'])
    expect(row.find('[role="menu"]').exists()).toBe(false) // closed after the choice
    expect(w.emitted('opened')).toBeUndefined() // and the row was not opened
  })

  it('the menu works from the keyboard: arrows move, disabled items are skipped, Esc returns to "⋯"', async () => {
    tableWidth = 500
    const w = mountHost({ withActions: true })
    await flushPromises()
    const row = w.get('[data-testid="item-row"][data-id="2"]') // its Drop is disabled
    const more = row.get('[data-testid="row-actions-more"]')
    await more.trigger('keydown', { key: 'ArrowDown' })
    await nextTick()
    const edit = row.get('[data-testid="item-edit"]')
    expect(document.activeElement).toBe(edit.element)
    expect(row.get('[data-testid="item-drop"]').attributes('disabled')).toBeDefined()
    await edit.trigger('keydown', { key: 'ArrowDown' })
    expect(document.activeElement).toBe(edit.element) // the only enabled item
    await edit.trigger('keydown', { key: 'Escape' })
    expect(row.find('[role="menu"]').exists()).toBe(false)
    expect(document.activeElement).toBe(more.element)
  })

  it('narrower still: every action in the menu; a click elsewhere closes it', async () => {
    tableWidth = 400 // 330 + 30 + 16
    const w = mountHost({ withActions: true })
    await flushPromises()
    expect(w.get('[data-testid="items-table"]').attributes('data-actions-layout')).toBe('menu')
    expect(inlineTestids(w, 3)).toEqual(['row-actions-more'])
    const row = w.get('[data-testid="item-row"][data-id="3"]')
    await row.get('[data-testid="row-actions-more"]').trigger('click')
    await nextTick()
    expect(row.findAll('[role="menuitem"]').map((i) => i.text())).toEqual(['Check now', 'Edit', 'Drop'])
    document.body.dispatchEvent(new Event('pointerdown', { bubbles: true }))
    await nextTick()
    expect(row.find('[role="menu"]').exists()).toBe(false)
  })
})
