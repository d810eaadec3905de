import { describe, expect, it } from 'vitest'
import { formatCap, formatCardDate, formatDrain, numberCheckWord, parseCap, shortUrl } from '../ocrFormat'

describe('OCR view formatting', () => {
  it('says how long the backlog takes to drain: seconds, minutes, hours', () => {
    expect(formatDrain(null)).toBeNull()
    expect(formatDrain(0.2)).toBe('~1 s')
    expect(formatDrain(59.2)).toBe('~60 s')
    expect(formatDrain(60)).toBe('1 min')
    expect(formatDrain(61)).toBe('2 min')
    expect(formatDrain(3600)).toBe('1 h')
    expect(formatDrain(5400)).toBe('1 h 30 min')
  })

  it('shortens a long URL in the middle, keeping the host and the query', () => {
    const url = 'https://img.example.com/uploads/2026/01/10/customer-83421/id-card-front.jpg?fail=216201&times=1'
    const short = shortUrl(url)
    expect([...short]).toHaveLength(44)
    expect(short.startsWith('https://img.example.co')).toBe(true)
    expect(short.endsWith('?fail=216201&times=1')).toBe(true)
    expect(short).toContain('…')
    expect(shortUrl('https://a.example/b.jpg')).toBe('https://a.example/b.jpg')
  })

  it('reads and writes caps', () => {
    expect(parseCap(' 2.5 ')).toBe(2.5)
    expect(parseCap('')).toBeNull()
    expect(parseCap('two')).toBeNull()
    expect(formatCap(2)).toBe('2')
    expect(formatCap(0.333333)).toBe('0.33')
  })

  it('shows card dates with dashes, and 长期 as is', () => {
    expect(formatCardDate('20360101')).toBe('2036-01-01')
    expect(formatCardDate('长期')).toBe('长期')
  })

  it('names Baidu’s ID number check', () => {
    expect(numberCheckWord(1)).toBe('consistent with sex and birth date')
    expect(numberCheckWord(0)).toBe('invalid number')
    expect(numberCheckWord(null)).toBe('—')
    expect(numberCheckWord(9)).toBe('code 9')
  })
})
