/** Summary of repeated measurements: the median and the range. */
export interface Spread {
  median: number
  min: number
  max: number
  n: number
}

/** Median of the values (mean of the two middle ones for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 }
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length }
}

/**
 * The p-th percentile (0..100) of values already sorted ascending, by the
 * nearest-rank method: the smallest value with at least p% of values at or below it.
 */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  if (p <= 0) return sorted[0]!
  // the epsilon keeps 99.9% of 1000 at rank 999 despite floating-point error
  const rank = Math.ceil((p / 100) * sorted.length - 1e-9)
  return sorted[Math.min(sorted.length, rank) - 1]!
}

/** Points of the empirical CDF, thinned to at most `points` (x = value, y = fraction at or below). */
export function cdfPoints(sorted: readonly number[], points = 200): Array<[number, number]> {
  const n = sorted.length
  if (n === 0) return []
  const step = Math.max(1, Math.floor(n / points))
  const out: Array<[number, number]> = []
  for (let i = step - 1; i < n; i += step) out.push([sorted[i]!, (i + 1) / n])
  if (out[out.length - 1]?.[1] !== 1) out.push([sorted[n - 1]!, 1])
  return out
}
