const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—'
  let v = n
  let u = 0
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024
    u++
  }
  return `${u === 0 ? v : v.toFixed(1)} ${UNITS[u]}`
}

/** 90061000 → "1 d 1 h 1 min" (the two largest units). */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—'
  if (ms < 1000) return `${ms} ms`
  const parts: string[] = []
  let s = Math.floor(ms / 1000)
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['min', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(s / size)
    if (n > 0) parts.push(`${n} ${unit}`)
    s -= n * size
  }
  return parts.slice(0, 2).join(' ')
}

export function formatNumber(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('en-US')
}

/** The browser's time zone as a short label ("UTC", "GMT+1"). */
export function zoneLabel(d: Date = new Date()): string {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZoneName: 'short' }).formatToParts(d)
  return parts.find((p) => p.type === 'timeZoneName')?.value ?? ''
}

/** A date and time with milliseconds, labelled with its zone: at 3 a.m. nobody should guess which. */
export function formatTime(iso: string | number, zone: 'local' | 'utc' = 'local'): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return String(iso)
  // 2026-12-06T20:44:48.123Z → 2026-12-06 20:44:48.123 UTC
  if (zone === 'utc') return `${d.toISOString().replace('T', ' ').replace('Z', '')} UTC`
  return `${d.toLocaleDateString('en-CA')} ${d.toLocaleTimeString('en-GB')}.${String(d.getMilliseconds()).padStart(3, '0')} ${zoneLabel(d)}`
}

/** The time of day alone, for chart axes whose caption names the zone. */
export function formatClock(t: number, zone: 'local' | 'utc' = 'local'): string {
  return new Date(t).toLocaleTimeString('en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    ...(zone === 'utc' ? { timeZone: 'UTC' } : {}),
  })
}

const AXIS = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 })

/** A chart axis tick that fits its narrow axis: 950, 1.2K, 120K, 3.4M. */
export function formatAxis(n: number): string {
  return AXIS.format(n)
}

/** Events a second: "—" until there are two samples to tell it from. */
export function formatRate(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined) return '—'
  const digits = perSecond > 0 && perSecond < 10 ? 1 : 0
  return `${perSecond.toLocaleString('en-US', { maximumFractionDigits: digits })}/s`
}

/** Lag in seconds as an operator reads it: "0 s", "12 s", "3 min 5 s". */
export function formatLagSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—'
  if (seconds < 1) return seconds === 0 ? '0 s' : '< 1 s'
  return formatDuration(Math.round(seconds) * 1000)
}
