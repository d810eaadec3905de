// Sorting a paged list on the core's side: a DataTable's header click becomes the core's sort
// (OrderSort, UserSort, AuditSort), and the core's sort shows as the header's arrow. The rows are
// a page of the whole sorted list, so the table never sorts them itself.
import { computed, type Ref } from 'vue'
import type { Column, SortState } from './dataTable'

/** A list's sort as the core takes it: one of its sort names and a direction. */
export interface CoreSortState<S extends string> {
  key: S
  desc: boolean
}

/**
 * `columns` with those named in `sorts` (column key → the core's sort name) made sortable, the
 * sort to show, and what a header click does. `descFirst`: the columns whose first click sorts
 * descending (times: newest first).
 */
export function coreSort<R, S extends string>(
  columns: Ref<Column<R>[]>,
  sorts: Readonly<Partial<Record<string, S>>>,
  current: () => CoreSortState<S> | null,
  set: (sort: CoreSortState<S>) => void,
  descFirst: readonly string[] = [],
) {
  const sortable = computed(() =>
    columns.value.map((c) =>
      sorts[c.key] === undefined ? c : { ...c, sortable: true, descFirst: descFirst.includes(c.key) },
    ),
  )
  const shown = computed<SortState | null>(() => {
    const sort = current()
    if (!sort) return null
    const key = Object.keys(sorts).find((k) => sorts[k] === sort.key)
    return key === undefined ? null : { key, desc: sort.desc }
  })
  function onSort(sort: SortState): void {
    const key = sorts[sort.key]
    if (key !== undefined) set({ key, desc: sort.desc })
  }
  return { columns: sortable, sort: shown, onSort }
}
