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
  /** Events not yet consumed, summed over every subscription, at the end of the step. */
  lagTotal: number
  /** The subscription furthest behind and its lag; null while there are no subscriptions. */
  worstLag: number | null
  worstSubscription: string | null
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
  /** Lag gauges per subscription (refreshed by the subscription stats collector). */
  lags: Array<{ subscription: string; lag: number }>
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

  /** One subscription's lag per partition over the last minutes (empty until the collector has seen it). */
  subscriptionLag(name: string): SubscriptionLagSeries {
    return subscriptionLagHistory(this.metrics).series(name)
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
    const worst = to.lags.reduce<{ subscription: string; lag: number } | null>(
      (w, l) => (w === null || l.lag > w.lag ? l : w),
      null,
    )
    return {
      t: to.t,
      eventsInPerSec: rate(from.eventsIn, to.eventsIn),
      eventsOutPerSec: rate(from.eventsOut, to.eventsOut),
      publishP50Ms: percentileMs(deltas, 0.5),
      publishP99Ms: percentileMs(deltas, 0.99),
      dbLatencyMs: s.dbCount === 0 ? null : round(s.dbSum / s.dbCount),
      errorsPerSec: rate(from.errors, to.errors),
      loopLagMs: round(s.lagMax),
      lagTotal: to.lags.reduce((n, l) => n + l.lag, 0),
      worstLag: worst?.lag ?? null,
      worstSubscription: worst?.subscription ?? null,
    }
  }

  private async snapshot(): Promise<Snapshot> {
    const [eventsIn, eventsOut, errors, latency, lag] = await Promise.all([
      this.metrics.eventsIn.get(),
      this.metrics.eventsOut.get(),
      this.metrics.rejected.get(),
      this.metrics.publishLatency.get(),
      this.metrics.subscriptionLag.get(),
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
      lags: lag.values.map((v) => ({ subscription: String(v.labels.subscription), lag: v.value })),
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

/** One sample of a subscription's lag: the total and each partition's, keyed `topic/partition`. */
export interface SubscriptionLagPoint {
  t: number
  lag: number
  partitions: Record<string, number>
}

export interface SubscriptionLagSeries {
  name: string
  /** Every `topic/partition` key seen in the points, sorted. */
  partitions: string[]
  points: SubscriptionLagPoint[]
}

// Bounded memory: at most 1000 subscriptions × 300 points × 64 partitions, whatever the uptime.
// Samples closer than 1 s replace the previous one, so the 300 points span at least 5 minutes
// (25 minutes at the default 5 s collection interval).
const LAG_POINTS = 300
const LAG_MIN_SPACING_MS = 1000
const LAG_MAX_PARTITIONS = 64
const LAG_MAX_SUBSCRIPTIONS = 1000

/** Per-subscription rings of lag per partition, fed by the subscription stats collector. */
export class SubscriptionLagHistory {
  private readonly rings = new Map<string, Ring<SubscriptionLagPoint>>()
  /** The latest point of each ring, and when its slot opened. */
  private readonly last = new Map<string, { point: SubscriptionLagPoint; openedAt: number }>()

  record(
    name: string,
    partitions: ReadonlyArray<{ topic: string; partition: number; lag: number }>,
    t = Date.now(),
  ): void {
    let ring = this.rings.get(name)
    if (!ring) {
      if (this.rings.size >= LAG_MAX_SUBSCRIPTIONS) return
      ring = new Ring<SubscriptionLagPoint>(LAG_POINTS)
      this.rings.set(name, ring)
    }
    const point: SubscriptionLagPoint = { t, lag: 0, partitions: {} }
    for (const p of partitions) {
      point.lag += p.lag
      if (Object.keys(point.partitions).length < LAG_MAX_PARTITIONS)
        point.partitions[`${p.topic}/${p.partition}`] = p.lag
    }
    const previous = this.last.get(name)
    // within a slot the newest reading wins, so the latest point is never stale
    if (previous && t - previous.openedAt < LAG_MIN_SPACING_MS) Object.assign(previous.point, point)
    else {
      ring.push(point)
      this.last.set(name, { point, openedAt: t })
    }
  }

  forget(name: string): void {
    this.rings.delete(name)
    this.last.delete(name)
  }

  series(name: string): SubscriptionLagSeries {
    const points = (this.rings.get(name)?.toArray() ?? []).map((p) => ({
      ...p,
      partitions: { ...p.partitions },
    }))
    const keys = new Set(points.flatMap((p) => Object.keys(p.partitions)))
    return { name, partitions: [...keys].sort(), points }
  }
}

// Keyed by the broker's metrics registry, which the sampler and the collector share,
// so each broker in a process has its own history.
const histories = new WeakMap<Metrics, SubscriptionLagHistory>()

export function subscriptionLagHistory(metrics: Metrics): SubscriptionLagHistory {
  let h = histories.get(metrics)
  if (!h) {
    h = new SubscriptionLagHistory()
    histories.set(metrics, h)
  }
  return h
}
