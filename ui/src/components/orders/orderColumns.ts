import type { OrderKind } from '../../backend'
import { t } from '../../i18n'
import { formatFen, kindWord } from '../../ordersFormat'
import type { Column } from '../dataTable'

// The columns both order lists (pending/paid and cancelled) start with, at the same widths, so
// switching tabs does not move them: the order number, the user, the kind, the amount.

/** What those columns read from an order, cancelled or not. */
interface OrderRow {
  order_no: string
  user_id: number
  kind: OrderKind
  amount_fen: number
}

export interface OrderColumnsOptions<R> {
  /** The order number's hover (default: the number). */
  title?: (row: R) => string
  /** Where the kind goes where the window is narrow (Column.optional); kept by default. */
  kindOptional?: number
  /** The cells' test ids. */
  testids: { user?: string; amount: string }
}

/**
 * Order numbers are "OD" + the time + 8 random digits: the end tells them apart, so they are cut
 * at the start, and get their whole width (about 24 monospace characters) first.
 */
export function orderColumns<R extends OrderRow>(options: OrderColumnsOptions<R>): Column<R>[] {
  return [
    {
      key: 'order_no',
      label: t('orders.table.order'),
      minWidth: 120,
      idealWidth: 204,
      truncate: 'start',
      class: 'mono',
      testid: 'order-no',
      title: options.title,
    },
    { key: 'user_id', label: t('orders.table.user'), width: 76, align: 'end', class: 'num', testid: options.testids.user },
    { key: 'kind', label: t('orders.table.kind'), width: 70, optional: options.kindOptional, text: (o) => kindWord(o.kind) },
    {
      key: 'amount',
      label: t('orders.table.amount'),
      width: 92,
      align: 'end',
      class: 'num',
      testid: options.testids.amount,
      text: (o) => formatFen(o.amount_fen),
    },
  ]
}
