import { describe, expect, it } from 'vitest'
import { countdown, eventDetail, eventWord, formatFen, itemsSummary, parseYuan } from '../ordersFormat'
import { goods } from './fakeBackend'

describe('orders formatting', () => {
  it('shows fen as yuan with two decimals and thousands separators', () => {
    expect(formatFen(1250)).toBe('¥12.50')
    expect(formatFen(5)).toBe('¥0.05')
    expect(formatFen(0)).toBe('¥0.00')
    expect(formatFen(123456789)).toBe('¥1,234,567.89')
    expect(formatFen(-50)).toBe('-¥0.50')
  })

  it('reads a price in yuan as fen, refusing anything else', () => {
    expect(parseYuan('12.50')).toBe(1250)
    expect(parseYuan('12.5')).toBe(1250)
    expect(parseYuan(' ¥3 ')).toBe(300)
    expect(parseYuan('0.07')).toBe(7)
    expect(parseYuan('1.234')).toBeNull()
    expect(parseYuan('-1')).toBeNull()
    expect(parseYuan('')).toBeNull()
    expect(parseYuan('12,50')).toBeNull()
  })

  it('counts down in mm:ss (h:mm:ss beyond an hour), rounding up, and null once due', () => {
    const at = Date.parse('2026-01-10T02:00:00Z')
    expect(countdown('2026-01-10T02:30:00Z', at)).toBe('30:00')
    expect(countdown('2026-01-10T02:00:05Z', at + 100)).toBe('00:05')
    expect(countdown('2026-01-10T02:00:01Z', at + 999)).toBe('00:01')
    expect(countdown('2026-01-10T02:00:00Z', at)).toBeNull()
    expect(countdown('2026-01-10T01:59:00Z', at)).toBeNull()
    expect(countdown('2026-01-10T03:02:03Z', at)).toBe('1:02:03')
    expect(countdown('not a time', at)).toBeNull()
  })

  it('summarises items with the goods’ names when known', () => {
    const known = [goods({ id: 1, name: 'Tea mug', sku: 'MUG-1' })]
    expect(itemsSummary('goods', [{ goods_id: 1, quantity: 3, price_fen: 1250 }, { goods_id: 9, quantity: 1, price_fen: 1 }], known)).toBe(
      '3 × Tea mug (MUG-1), 1 × goods #9',
    )
    expect(itemsSummary('top_up', [], known)).toBe('top-up')
  })

  it('puts known event details in words and anything else as JSON', () => {
    expect(eventDetail('placed', { amount_fen: 3750 })).toBe('¥37.50')
    expect(eventDetail('paid', { trade_no: '2026001' })).toBe('trade 2026001')
    expect(eventDetail('conflict', { trade_no: 'T', note: 'for staff' })).toBe('trade T (for staff)')
    expect(eventDetail('closed', null)).toBe('')
    expect(eventDetail('queried', { something: 1 })).toBe('{"something":1}')
  })

  it('says what a payment conflict, a refused notice and a refund mean for staff', () => {
    expect(eventWord('conflict')).toBe('payment conflict')
    expect(eventDetail('conflict', { trade_no: 'T7', paid_fen: 5001, amount_fen: 5000, note: 'x' })).toBe(
      'Alipay took ¥50.01, the order is ¥50.00 (trade T7): not applied; refund it at Alipay',
    )
    expect(eventWord('notify_refused')).toBe('payment notice refused')
    expect(eventDetail('notify_refused', { field: 'seller_id', reason: 'the notify is for another seller', notify_id: 'n' })).toBe(
      'seller_id: the notify is for another seller',
    )
    expect(eventWord('refunded')).toBe('refunded at Alipay')
    expect(eventDetail('refunded', { trade_no: 'T8', notify_id: 'n', note: 'x' })).toContain('trade T8 closed after payment')
  })
})
