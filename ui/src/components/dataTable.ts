// The types DataTable.vue is declared with, and its pure parts (sorting, how much room the row
// actions get), kept apart so they read and test on their own.

/** One column of a DataTable, declared by the list that uses it. */
export interface Column<R> {
  /** Names the column: its `sort` key, and the slots `cell-<key>` / `head-<key>`. */
  key: string
  /** The header's words (also its hover text: a header never wraps). */
  label: string
  /** A fixed width in px, for content of a known size (times, amounts, ids). */
  width?: number
  /**
   * The least width in px of a column without `width`; such columns share what the fixed ones
   * leave. Below the sum of all widths the table scrolls sideways instead of squeezing.
   */
  minWidth?: number
  /**
   * The width a column without `width` wants to show its content whole (e.g. a full order
   * number): spare width goes to it first, and optional columns give way to it.
   */
  idealWidth?: number
  align?: 'start' | 'end' | 'center'
  /** The header's words only for screen readers (e.g. a column of checkboxes). */
  hideLabel?: boolean
  /**
   * One line, cut with an ellipsis, the whole text (`title`, else `text`) on hover. Cells
   * without it are kept to one line as well (clipped); `wrap` lets content take more lines.
   * `start` cuts the start instead, for ids whose end tells them apart (OD20261204…35766).
   */
  truncate?: boolean | 'start'
  /** Content of several lines (an avatar with two lines, a list of chips): not clipped. */
  wrap?: boolean
  /**
   * Left out where the table is too narrow for every column's least width and the row actions
   * inline (the highest number first), rather than collapse the actions or scroll the table
   * sideways. For what the row's hover or detail also says.
   */
  optional?: number
  /** The cell holds its own controls (a checkbox, a dropdown): a click in it does not open the row. */
  interactive?: boolean
  sortable?: boolean
  /** The first click sorts descending (newest first for times, largest first for counts). */
  descFirst?: boolean
  /** The cell's text when no `cell-<key>` slot renders it; default `row[key]`. */
  text?: (row: R) => string
  /** The hover text of a truncated cell; default `text`. */
  title?: (row: R) => string
  /** What sorting on the rows loaded compares (`sortLocally`); default `text`. */
  sortValue?: (row: R) => string | number | null
  /** Classes of the column's cells (e.g. `num`, `mono`). */
  class?: string
  /** `data-testid` of the column's cells. */
  testid?: string
}

/** The sort shown: a column's key and the direction. */
export interface SortState {
  key: string
  desc: boolean
}

/** A button of a row's actions; inline while they fit, else in the row's "⋯" menu. */
export interface RowAction {
  key: string
  label: string
  run: () => void
  testid?: string
  disabled?: boolean
  /** Why it is disabled, or more words about it (hover). */
  title?: string
  /** Red: it destroys or cancels something. */
  danger?: boolean
  /** Blue: what the row is there for (e.g. Accept a request). */
  strong?: boolean
  /** Stays outside the menu for as long as it fits alone. At most one per row. */
  primary?: boolean
}

/**
 * How a row's actions are laid out: all inline; the primary inline and the rest in the menu;
 * everything in the menu.
 */
export type ActionsLayout = 'inline' | 'primary' | 'menu'

/** The width the actions take in each layout (px), measured from the buttons themselves. */
export interface ActionsWidths {
  inline: number
  primary: number
  menu: number
}

/** The least width of a column without a fixed one. */
export const DEFAULT_MIN_WIDTH = 80

/** The width the columns other than the actions need at least (px). */
export function columnsMinWidth(columns: readonly Column<unknown>[]): number {
  return columns.reduce((sum, c) => sum + (c.width ?? c.minWidth ?? DEFAULT_MIN_WIDTH), 0)
}

/**
 * The roomiest layout of the actions that fits `available` px next to columns needing `needed`
 * px; `menu` when none does (the table then scrolls sideways, the "⋯" still in reach).
 */
export function actionsLayout(available: number, needed: number, widths: ActionsWidths): ActionsLayout {
  if (needed + widths.inline <= available) return 'inline'
  if (needed + widths.primary <= available) return 'primary'
  return 'menu'
}

/** The width a column takes when there is room: fixed, else ideal, else least. */
function idealOf(c: Column<unknown>): number {
  return c.width ?? c.idealWidth ?? c.minWidth ?? DEFAULT_MIN_WIDTH
}

/**
 * The columns shown in `available` px with `reserved` px kept for the actions: all of them when
 * their ideal widths fit, else without optional ones, the highest `optional` first, until they do
 * (or none is left to leave out).
 */
export function fittingColumns<R>(columns: readonly Column<R>[], available: number | null, reserved: number): Column<R>[] {
  let shown = [...columns]
  if (available === null) return shown
  const droppable = columns
    .filter((c) => c.optional !== undefined)
    .sort((a, b) => (b.optional ?? 0) - (a.optional ?? 0))
  const ideal = (cs: Column<R>[]) => cs.reduce((sum, c) => sum + idealOf(c as Column<unknown>), 0)
  for (const column of droppable) {
    if (ideal(shown) + reserved <= available) break
    shown = shown.filter((c) => c !== column)
  }
  return shown
}

/**
 * The widths (px) of `columns` in a table `available` px wide with `reserved` px for the actions:
 * fixed ones as declared; the others get their least width, then the spare width up to their
 * ideal width (in proportion to what each lacks), then what is left in proportion to their least
 * widths among the columns without an ideal width (all of them if each has one). Whole pixels,
 * rounded down.
 */
export function columnWidths<R>(columns: readonly Column<R>[], available: number, reserved: number): number[] {
  const flexible = columns.filter((c) => c.width === undefined)
  const min = (c: Column<R>) => c.minWidth ?? DEFAULT_MIN_WIDTH
  const lack = (c: Column<R>) => Math.max(0, (c.idealWidth ?? 0) - min(c))
  let spare = Math.max(0, available - reserved - columnsMinWidth(columns as Column<unknown>[]))
  const lacking = flexible.reduce((sum, c) => sum + lack(c), 0)
  const towardsIdeal = Math.min(spare, lacking)
  spare -= towardsIdeal
  // What is left goes to the columns that have no ideal width (they can use it), else to all.
  const open = flexible.some((c) => c.idealWidth === undefined) ? flexible.filter((c) => c.idealWidth === undefined) : flexible
  const openMin = open.reduce((sum, c) => sum + min(c), 0)
  return columns.map((c) => {
    if (c.width !== undefined) return c.width
    const toIdeal = lacking === 0 ? 0 : (towardsIdeal * lack(c)) / lacking
    const rest = open.includes(c) && openMin > 0 ? (spare * min(c)) / openMin : 0
    return Math.floor(min(c) + toIdeal + rest)
  })
}

/** The sort after a click on the header of `column`. */
export function nextSort(current: SortState | null, column: Pick<Column<unknown>, 'key' | 'descFirst'>): SortState {
  if (current?.key === column.key) return { key: column.key, desc: !current.desc }
  return { key: column.key, desc: column.descFirst === true }
}

/** `aria-sort` of a sortable column's header. */
export function ariaSort(current: SortState | null, key: string): 'ascending' | 'descending' | 'none' {
  if (current?.key !== key) return 'none'
  return current.desc ? 'descending' : 'ascending'
}

/** The value a column shows for a row, as text. */
export function cellText<R>(column: Column<R>, row: R): string {
  if (column.text) return column.text(row)
  const value = (row as Record<string, unknown>)[column.key]
  return value === null || value === undefined ? '' : String(value)
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' })

/**
 * The rows in the order `sort` asks for, for lists held whole on this side (the paged lists ask
 * the core). Stable; empty values last whichever the direction.
 */
export function sortRows<R>(rows: readonly R[], columns: readonly Column<R>[], sort: SortState | null): R[] {
  const column = sort ? columns.find((c) => c.key === sort.key) : undefined
  if (!sort || !column) return [...rows]
  const value = (row: R) => (column.sortValue ? column.sortValue(row) : cellText(column, row))
  const sign = sort.desc ? -1 : 1
  return rows
    .map((row, index) => ({ row, index, v: value(row) }))
    .sort((a, b) => {
      const aEmpty = a.v === null || a.v === ''
      const bEmpty = b.v === null || b.v === ''
      if (aEmpty || bEmpty) return aEmpty === bEmpty ? a.index - b.index : aEmpty ? 1 : -1
      const order =
        typeof a.v === 'number' && typeof b.v === 'number' ? a.v - b.v : collator.compare(String(a.v), String(b.v))
      return order === 0 ? a.index - b.index : sign * order
    })
    .map((x) => x.row)
}
