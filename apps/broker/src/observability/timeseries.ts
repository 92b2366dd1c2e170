import type { HealthMonitor } from './health'
import type { Metrics } from './metrics'

/** One point of the broker's health over one step of time. Rates are per second, latencies in ms. */
export interface StatsPoint {
  /** End of the step, epoch ms. */
  t: number
  eventsInPerSec: number
  eventsOutPerSec: number
  /** Publish-to-commit latency percentiles over the step; null when nothing was published. */
  publishP50Ms: number | null
  publishP99Ms: number | null
  /** Mean of the database probes in the step; null when the database did not answer. */
  dbLatencyMs: number | null
  /** Requests refused with an error, per second. */
  errorsPerSec: number
  /** Worst event-loop delay seen in the step. */
  loopLagMs: number
}

export const STATS_WINDOWS = ['5m', '1h', '24h'] as const
export type StatsWindow = (typeof STATS_WINDOWS)[number]

interface Tier {
  window: StatsWindow
  stepMs: number
  capacity: number
}

// Bounded memory: 300 + 360 + 1440 points, whatever the uptime.
const TIERS: readonly Tier[] = [
  { window: '5m', stepMs: 1000, capacity: 300 },
  { window: '1h', stepMs: 10_000, capacity: 360 },
  { window: '24h', stepMs: 60_000, capacity: 1440 },
]

/** Cumulative counters read from the metrics registry at one instant. */
interface Snapshot {
  t: number
  eventsIn: number
  eventsOut: number
  errors: number
  /** Upper bounds of the publish-latency buckets (seconds) with their cumulative counts. */
  buckets: Array<{ le: number; count: number }>
}

/** A fixed-size ring of points: the oldest is overwritten once it is full. */
class Ring<T> {
  private readonly items: T[] = []
  private head = 0

  constructor(private readonly capacity: number) {}

  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item)
    else this.items[this.head] = item
    this.head = (this.head + 1) % this.capacity
  }

  toArray(): T[] {
    if (this.items.length < this.capacity) return [...this.items]
    return [...this.items.slice(this.head), ...this.items.slice(0, this.head)]
  }
}

interface TierState {
  tier: Tier
  ring: Ring<StatsPoint>
  from: Snapshot | undefined
  dbSum: number
  dbCount: number
  lagMax: number
}

/**
 * Samples the broker's metrics every second and keeps them over time at three
 * resolutions (1 s for 5 min, 10 s for 1 h, 1 min for 24 h), so the console can
 * draw charts without a metrics server. Each tier diffs counters over its own
 * step, so coarse latency percentiles come from the histogram, not from averages.
 */
export class StatsSampler {
  private readonly tiers: TierState[] = TIERS.map((tier) => ({
    tier,
    ring: new Ring<StatsPoint>(tier.capacity),
    from: undefined,
    dbSum: 0,
    dbCount: 0,
    lagMax: 0,
  }))
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly metrics: Metrics,
    private readonly health: HealthMonitor,
  ) {}

  start(intervalMs = 1000): void {
    void this.sample()
    this.timer = setInterval(() => void this.sample(), intervalMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  series(window: StatsWindow): { window: StatsWindow; stepMs: number; points: StatsPoint[] } {
    const state = this.tiers.find((s) => s.tier.window === window)!
    return { window, stepMs: state.tier.stepMs, points: state.ring.toArray() }
  }

  private async sample(): Promise<void> {
    let snap: Snapshot
    try {
      snap = await this.snapshot()
    } catch {
      return
    }
    const report = this.health.report()
    for (const s of this.tiers) {
      if (report.db_latency_ms !== null) {
        s.dbSum += report.db_latency_ms
        s.dbCount++
      }
      s.lagMax = Math.max(s.lagMax, report.lag_ms)
      if (!s.from) {
        s.from = snap
        continue
      }
      if (snap.t - s.from.t < s.tier.stepMs - 100) continue
      s.ring.push(this.point(s, snap))
      s.from = snap
      s.dbSum = 0
      s.dbCount = 0
      s.lagMax = 0
    }
  }

  private point(s: TierState, to: Snapshot): StatsPoint {
    const from = s.from!
    const seconds = Math.max(0.001, (to.t - from.t) / 1000)
    const rate = (a: number, b: number) => round(Math.max(0, b - a) / seconds)
    const deltas = to.buckets.map((b, i) => ({ le: b.le, count: b.count - (from.buckets[i]?.count ?? 0) }))
    return {
      t: to.t,
      eventsInPerSec: rate(from.eventsIn, to.eventsIn),
      eventsOutPerSec: rate(from.eventsOut, to.eventsOut),
      publishP50Ms: percentileMs(deltas, 0.5),
      publishP99Ms: percentileMs(deltas, 0.99),
      dbLatencyMs: s.dbCount === 0 ? null : round(s.dbSum / s.dbCount),
      errorsPerSec: rate(from.errors, to.errors),
      loopLagMs: round(s.lagMax),
    }
  }

  private async snapshot(): Promise<Snapshot> {
    const [eventsIn, eventsOut, errors, latency] = await Promise.all([
      this.metrics.eventsIn.get(),
      this.metrics.eventsOut.get(),
      this.metrics.rejected.get(),
      this.metrics.publishLatency.get(),
    ])
    const sum = (values: Array<{ value: number }>) => values.reduce((n, v) => n + v.value, 0)
    const buckets = latency.values
      .filter((v) => v.metricName?.endsWith('_bucket'))
      .map((v) => ({
        le: v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le),
        count: v.value,
      }))
      .sort((a, b) => a.le - b.le)
    return {
      t: Date.now(),
      eventsIn: sum(eventsIn.values),
      eventsOut: sum(eventsOut.values),
      errors: sum(errors.values),
      buckets,
    }
  }
}

/** Percentile of a step from cumulative bucket deltas, interpolated inside its bucket. */
function percentileMs(buckets: Array<{ le: number; count: number }>, q: number): number | null {
  const total = buckets.at(-1)?.count ?? 0
  if (total <= 0) return null
  const rank = q * total
  let prevLe = 0
  let prevCount = 0
  for (const b of buckets) {
    if (b.count >= rank) {
      // past the last finite bound there is nothing to interpolate towards
      if (!Number.isFinite(b.le)) return round(prevLe * 1000)
      const inBucket = b.count - prevCount
      const share = inBucket > 0 ? (rank - prevCount) / inBucket : 1
      return round((prevLe + (b.le - prevLe) * share) * 1000)
    }
    prevLe = b.le
    prevCount = b.count
  }
  return round(prevLe * 1000)
}

const round = (n: number) => Math.round(n * 100) / 100
