// Date-times in a named IANA time zone, with Intl only (no date library).
// The scheduler's times belong to a zone (the job's, or the app's configured
// one), never to the machine the console happens to run on.

interface WallClock {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

const formatters = new Map<string, Intl.DateTimeFormat | null>()

function formatter(zone: string): Intl.DateTimeFormat | null {
  if (!formatters.has(zone)) {
    let f: Intl.DateTimeFormat | null = null
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      })
    } catch {
      f = null // not a zone this runtime knows
    }
    formatters.set(zone, f)
  }
  return formatters.get(zone) ?? null
}

/** True when the runtime knows `zone` as an IANA time zone name. */
export function isKnownZone(zone: string): boolean {
  return zone.trim() !== '' && formatter(zone) !== null
}

/** The machine's own zone: the fallback when no zone is configured. */
export function machineZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
  } catch {
    return 'UTC'
  }
}

function wallClock(zone: string, epochMs: number): WallClock | null {
  const f = formatter(zone)
  if (!f) return null
  const parts: Record<string, number> = {}
  for (const p of f.formatToParts(new Date(epochMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value)
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: (parts.hour ?? 0) % 24,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  }
}

/** The zone's UTC offset at an instant, in minutes (east positive). */
export function zoneOffsetMinutes(zone: string, epochMs: number): number | null {
  const w = wallClock(zone, epochMs)
  if (!w) return null
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second)
  return Math.round((asUtc - Math.floor(epochMs / 1000) * 1000) / 60_000)
}

const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0')

/** "+08:00", "-04:00", "+00:00" */
export function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+'
  const m = Math.abs(minutes)
  return `${sign}${pad(Math.floor(m / 60))}:${pad(m % 60)}`
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/i

/**
 * An instant as "YYYY-MM-DD HH:mm:ss" in `zone`, plus " +08:00" when
 * `withOffset`. If the zone is unknown, the text's own wall time and offset
 * are used; text that does not parse comes back as is.
 */
export function formatInZone(iso: string, zone: string, withOffset = true): string {
  const t = Date.parse(iso)
  const w = Number.isNaN(t) ? null : wallClock(zone, t)
  if (w) {
    const text = `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}`
    const off = zoneOffsetMinutes(zone, t)
    return withOffset && off !== null ? `${text} ${formatOffset(off)}` : text
  }
  const m = RFC3339.exec(iso.trim())
  if (!m) return iso
  const text = `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6] ?? '00'}`
  if (!withOffset || !m[7]) return text
  const off = m[7].toUpperCase() === 'Z' ? '+00:00' : m[7].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')
  return `${text} ${off}`
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/

/**
 * Normalises a local date-time as typed or picked ("2026-12-05T08:00",
 * "2026-12-05 08:00:30") to 'YYYY-MM-DDTHH:MM[:SS]'; null if it is not one.
 */
export function normalizeLocal(text: string): string | null {
  const m = LOCAL.exec(text.trim())
  if (!m) return null
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}${m[6] ? `:${m[6]}` : ''}`
}

/**
 * A wall-clock time in `zone` ('YYYY-MM-DDTHH:MM[:SS]', e.g. from a
 * datetime-local input) as RFC 3339 with that zone's offset. A time in a DST
 * gap maps to the instant just after it. Null if the text or zone is invalid.
 */
export function localToRfc3339(local: string, zone: string): string | null {
  const norm = normalizeLocal(local)
  if (!norm || !isKnownZone(zone)) return null
  const m = LOCAL.exec(norm)!
  const guess = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, m[6] ? +m[6] : 0)
  // Try every offset the zone has around that day; keep the instants whose
  // wall clock is the one asked for.
  const offsets = new Set<number>()
  for (const probe of [guess - 86_400_000, guess, guess + 86_400_000]) {
    const off = zoneOffsetMinutes(zone, probe)
    if (off !== null) offsets.add(off)
  }
  const candidates = [...offsets].map((off) => guess - off * 60_000)
  const exact = candidates.filter((t) => {
    const w = wallClock(zone, t)
    return w !== null && Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) === guess
  })
  // Repeated by a fall-back: the first occurrence. In a spring-forward gap:
  // read with the offset before it, which lands just after the gap.
  const t = exact.length > 0 ? Math.min(...exact) : Math.max(...candidates)
  const w = wallClock(zone, t)!
  const off = zoneOffsetMinutes(zone, t) ?? 0
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}${formatOffset(off)}`
}

/** The wall-clock time in `zone` at an instant, as 'YYYY-MM-DDTHH:MM' (for inputs). */
export function localInputValue(zone: string, epochMs: number): string {
  const w = wallClock(zone, epochMs) ?? wallClock('UTC', epochMs)!
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`
}

// ---- in a locale ----

const localeFormatters = new Map<string, Intl.DateTimeFormat | null>()

function localeFormatter(locale: string, zone: string, dateToo: boolean): Intl.DateTimeFormat | null {
  const key = `${locale}|${zone}|${dateToo ? 'dt' : 't'}`
  if (!localeFormatters.has(key)) {
    let f: Intl.DateTimeFormat | null = null
    try {
      f = new Intl.DateTimeFormat(locale, {
        timeZone: zone,
        hourCycle: 'h23',
        ...(dateToo ? { year: 'numeric', month: 'short', day: 'numeric' } : {}),
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      })
    } catch {
      f = null // not a zone (or locale) this runtime knows
    }
    localeFormatters.set(key, f)
  }
  return localeFormatters.get(key) ?? null
}

/**
 * An instant in `zone` as `locale` writes a date and a 24-hour time — "Jan 10, 2026, 02:00:00"
 * (en), "2026-01-10 02:00:00" (zh-CN: the numeric yyyy-MM-dd Chinese back offices use, not
 * Intl's "2026年1月10日") — plus " +01:00" when `withOffset`. An unknown zone, or text that does
 * not parse, falls back to formatInZone.
 */
export function formatInZoneLocale(iso: string, zone: string, locale: string, withOffset = true): string {
  if (/^zh\b/i.test(locale)) return formatInZone(iso, zone, withOffset)
  const t = Date.parse(iso)
  const f = Number.isNaN(t) ? null : localeFormatter(locale, zone, true)
  if (!f) return formatInZone(iso, zone, withOffset)
  const text = f.format(new Date(t))
  const off = withOffset ? zoneOffsetMinutes(zone, t) : null
  return off !== null ? `${text} ${formatOffset(off)}` : text
}

/** The 24-hour wall-clock time of an instant in `zone`, as `locale` writes it ("14:03:22"). */
export function formatTimeInZone(iso: string, zone: string, locale: string): string {
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return iso
  const f = localeFormatter(locale, zone, false)
  return f ? f.format(new Date(t)) : formatInZone(iso, zone, false).slice(11)
}
