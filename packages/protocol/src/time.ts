const RELATIVE = /^(\d+)(ms|s|m|h|d)$/
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/**
 * Parses a point in time: ISO-8601 (`2026-11-26T14:00:00Z`), epoch milliseconds,
 * or a span before `now` (`90s`, `15m`, `1h`, `2d`). Returns null when unreadable.
 */
export function parseTimeParam(value: string, now: number = Date.now()): Date | null {
  const rel = RELATIVE.exec(value)
  if (rel) return new Date(now - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS])
  if (/^\d{10,}$/.test(value)) return new Date(Number(value))
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return null
  const t = Date.parse(value)
  return Number.isNaN(t) ? null : new Date(t)
}
