// Words and numbers of the Orders view. Money travels in fen (1 yuan = 100 fen). Words come from
// the global i18n instance.
import type { Goods, OrderEventKind, OrderItem, OrderKind, OrderStatus } from './backend'
import type { CancelReason } from './backend/api.generated'
import { t } from './i18n'
import { cancelReasonText } from './reasonText'

export const ORDER_STATUSES: readonly OrderStatus[] = ['pending', 'paid']

/** Orders expiring within this long count as "expiring soon" (the core's own window). */
export const EXPIRING_SOON_MS = 5 * 60_000

/** 1250 → "¥12.50", 123456789 → "¥1,234,567.89", -50 → "-¥0.50". */
export function formatFen(fen: number): string {
  if (!Number.isFinite(fen)) return '—'
  const abs = Math.abs(Math.trunc(fen))
  const yuan = Math.floor(abs / 100).toLocaleString('en-US')
  const cents = String(abs % 100).padStart(2, '0')
  return `${fen < 0 ? '-' : ''}¥${yuan}.${cents}`
}

/**
 * A price as staff type it, in yuan ("12.5", "12.50", "¥12", "3"), in fen; null when it is not
 * a plain amount with at most two decimals. The core checks the range.
 */
export function parseYuan(text: string): number | null {
  const m = /^¥?\s*(\d{1,12})(?:\.(\d{1,2}))?$/.exec(text.trim())
  if (!m) return null
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'))
}

/** A whole number as typed into a count field ("3", " 10 "); null otherwise. */
export function parseWhole(text: string | number): number | null {
  const t = String(text).trim()
  return /^\d{1,15}$/.test(t) ? Number(t) : null
}

export function kindWord(kind: OrderKind): string {
  return kind === 'top_up' ? t('orders.kind.top_up') : t('orders.kind.goods')
}

export function orderStatusWord(status: OrderStatus): string {
  return t(`orders.status.${status}`)
}

const pad = (n: number) => String(n).padStart(2, '0')

/**
 * The time left until `expiresAt` (RFC 3339) at `now` (ms): "mm:ss", or "h:mm:ss" beyond an
 * hour, rounded up to the second (an order placed with 5 s to go shows 00:05); null once it is
 * due (or when the time does not parse).
 */
export function countdown(expiresAt: string, now: number): string | null {
  const left = Date.parse(expiresAt) - now
  if (!Number.isFinite(left) || left <= 0) return null
  const total = Math.ceil(left / 1000)
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`
}

/** "3 × Tea mug (MUG-1), 1 × goods #9"; names from `goods` when known. "top-up" for a top-up. */
export function itemsSummary(kind: OrderKind, items: OrderItem[], goods: readonly Goods[]): string {
  if (kind === 'top_up') return t('orders.kind.top_up')
  if (items.length === 0) return '—'
  return items
    .map((item) => {
      const g = goods.find((x) => x.id === item.goods_id)
      const name = g ? `${g.name} (${g.sku})` : t('orders.goodsNumber', { id: item.goods_id })
      return t('orders.itemLine', { quantity: item.quantity, goods: name })
    })
    .join(t('orders.itemSeparator'))
}

const EVENTS: readonly string[] = [
  'placed',
  'queried',
  'closed',
  'cancelled',
  'stock_restored',
  'paid',
  'conflict',
  'notify_refused',
  'refunded',
]

/** What happened to an order, in words; an event this console does not know, as the core names it. */
export function eventWord(event: OrderEventKind | string): string {
  return EVENTS.includes(event) ? t(`orders.event.${event}`) : event
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * An event's detail in words where its shape is known (an amount, Alipay's trade status, a
 * reason, the stock put back, a trade number), else compact JSON; '' when there is none.
 */
export function eventDetail(event: OrderEventKind | string, detail: unknown, goods: readonly Goods[] = []): string {
  if (detail === null || detail === undefined) return ''
  if (event === 'placed' && isRecord(detail) && typeof detail.amount_fen === 'number') {
    return formatFen(detail.amount_fen)
  }
  if (event === 'queried' && isRecord(detail) && typeof detail.trade_status === 'string') {
    return detail.trade_status
  }
  if (event === 'cancelled' && isRecord(detail)) {
    // A code and its params (`CancelReason`); plain text in events recorded before that.
    if (typeof detail.reason === 'string') return detail.reason
    const reason = detail.reason
    if (isRecord(reason) && typeof reason.code === 'string') return cancelReasonText(reason as CancelReason)
  }
  if (event === 'stock_restored' && Array.isArray(detail)) {
    const items = detail.filter(
      (i): i is { goods_id: number; quantity: number } =>
        isRecord(i) && typeof i.goods_id === 'number' && typeof i.quantity === 'number',
    )
    if (items.length === detail.length) return itemsSummary('goods', items.map((i) => ({ ...i, price_fen: 0 })), goods)
  }
  if (
    event === 'conflict' &&
    isRecord(detail) &&
    typeof detail.paid_fen === 'number' &&
    typeof detail.amount_fen === 'number' &&
    detail.paid_fen !== detail.amount_fen
  ) {
    return t('orders.amountConflict', {
      paid: formatFen(detail.paid_fen),
      amount: formatFen(detail.amount_fen),
      tradeNo: typeof detail.trade_no === 'string' ? detail.trade_no : '—',
    })
  }
  if (event === 'notify_refused' && isRecord(detail) && typeof detail.reason === 'string') {
    return typeof detail.field === 'string'
      ? t('orders.notifyRefused', { field: detail.field, reason: detail.reason })
      : detail.reason
  }
  if (event === 'refunded' && isRecord(detail) && typeof detail.trade_no === 'string') {
    return t('orders.refunded', { tradeNo: detail.trade_no })
  }
  if ((event === 'paid' || event === 'conflict') && isRecord(detail) && typeof detail.trade_no === 'string') {
    return typeof detail.note === 'string'
      ? t('orders.tradeWithNote', { tradeNo: detail.trade_no, note: detail.note })
      : t('orders.trade', { tradeNo: detail.trade_no })
  }
  if (typeof detail === 'string') return detail
  try {
    return JSON.stringify(detail) ?? String(detail)
  } catch {
    return String(detail)
  }
}
