import type { Spread } from '../stats'

/** 12345 → "12.3k", 1234567 → "1.23M". */
export function si(v: number): string {
  if (!Number.isFinite(v)) return 'n/a'
  if (v === 0) return '0'
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toPrecision(3)}M`
  if (Math.abs(v) >= 1e3) return `${(v / 1e3).toPrecision(3)}k`
  return v.toPrecision(3)
}

/** "median (min–max)" of events/s. */
export function rate(s: Spread): string {
  if (s.n === 0) return 'n/a'
  return s.n === 1 ? si(s.median) : `${si(s.median)} (${si(s.min)}–${si(s.max)})`
}

/** "median (min–max)" of milliseconds. */
export function ms(s: Spread, digits = 2): string {
  if (s.n === 0) return 'n/a'
  const f = (v: number) => v.toFixed(digits)
  return s.n === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`
}

export function ratio(a: number, b: number): string {
  return Number.isFinite(a / b) && b > 0 ? `${((a / b) * 100).toFixed(0)}%` : 'n/a'
}

export function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n')
}
