import { isQuestlogError } from '@questlog/protocol'
import type { Logger } from 'pino'
import type { Metrics } from '../observability/metrics'
import { subscriptionLagHistory } from '../observability/timeseries'
import type { Sql } from '../storage/db'
import type { DeliveryService } from './delivery-service'

interface StatsRow {
  id: number
  name: string
  lag: number
  pending: number
  redelivered: number
  deadLetters: number
  lagSeconds: number
  partitions: Array<{ topic: string; partition: number; lag: number }>
}

/**
 * Refreshes the per-subscription gauges (lag, pending, redelivered, dead letters) every few
 * seconds. One broker of the cluster at a time (the one leading `subscription-stats`) computes
 * the figures and stores them in ql_subscription_stats; every broker feeds its gauges and lag
 * history from there, so /metrics and the console's charts agree on every broker and the
 * database answers the collector's queries once, not once per broker.
 */
export class SubscriptionStats {
  private timer: NodeJS.Timeout | undefined
  private known = new Set<string>()
  private round: Promise<void> | undefined
  private stopped = false

  constructor(
    private readonly sql: Sql,
    private readonly delivery: DeliveryService,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** `leads` says whether this broker is the one that computes. */
  start(intervalMs: number, leads: () => boolean = () => true): void {
    const tick = () => {
      this.round = (leads() ? this.collect() : this.apply())
        .catch((err) => {
          if (!this.stopped) this.log.warn({ err }, 'subscription stats failed')
        })
        .finally(() => {
          if (this.stopped) return
          this.timer = setTimeout(tick, intervalMs)
          this.timer.unref()
        })
    }
    tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.round
  }

  /** Computes every subscription's figures, stores them for the other brokers and applies them here. */
  async collect(): Promise<void> {
    const rows: StatsRow[] = []
    for (const sub of await this.delivery.subs.list()) {
      const r = await this.delivery.report(sub.name).catch((e) => {
        // deleted since the list was read
        if (isQuestlogError(e) && e.code === 'subscription_not_found') return undefined
        throw e
      })
      if (!r) continue
      rows.push({
        id: sub.id,
        name: sub.name,
        lag: r.lag,
        pending: r.pending,
        redelivered: r.redelivered,
        deadLetters: r.deadLetters,
        lagSeconds: await this.oldestAge(r.partitions),
        partitions: r.partitions.map((p) => ({ topic: p.topic, partition: p.partition, lag: p.lag })),
      })
    }
    await this.sql.begin(async (tx) => {
      await tx`DELETE FROM ql_subscription_stats WHERE NOT (subscription_id = ANY(${rows.map((r) => r.id)}::int[]))`
      if (rows.length === 0) return
      await tx`
        INSERT INTO ql_subscription_stats (subscription_id, name, lag, pending, redelivered, dead_letters, lag_seconds, partitions, collected_at)
        SELECT u.id, u.name, u.lag, u.pending, u.redelivered, u.dead, u.secs, u.parts::jsonb, now()
        FROM unnest(${rows.map((r) => r.id)}::int[], ${rows.map((r) => r.name)}::text[], ${rows.map((r) => r.lag)}::bigint[],
                    ${rows.map((r) => r.pending)}::bigint[], ${rows.map((r) => r.redelivered)}::bigint[],
                    ${rows.map((r) => r.deadLetters)}::bigint[], ${rows.map((r) => r.lagSeconds)}::float8[],
                    ${rows.map((r) => JSON.stringify(r.partitions))}::text[])
          AS u(id, name, lag, pending, redelivered, dead, secs, parts)
        -- one deleted meanwhile is left out
        JOIN ql_subscriptions s ON s.id = u.id
        ON CONFLICT (subscription_id) DO UPDATE SET name = excluded.name, lag = excluded.lag, pending = excluded.pending,
          redelivered = excluded.redelivered, dead_letters = excluded.dead_letters, lag_seconds = excluded.lag_seconds,
          partitions = excluded.partitions, collected_at = excluded.collected_at`
    })
    this.show(rows)
  }

  /** Feeds the gauges from the figures the collecting broker stored last. */
  async apply(): Promise<void> {
    const rows = await this.sql`
      SELECT subscription_id, name, lag, pending, redelivered, dead_letters, lag_seconds, partitions::text AS partitions
      FROM ql_subscription_stats`
    this.show(
      rows.map((r) => ({
        id: Number(r.subscription_id),
        name: r.name as string,
        lag: Number(r.lag),
        pending: Number(r.pending),
        redelivered: Number(r.redelivered),
        deadLetters: Number(r.dead_letters),
        lagSeconds: Number(r.lag_seconds),
        partitions: JSON.parse(r.partitions as string) as StatsRow['partitions'],
      })),
    )
  }

  private show(rows: StatsRow[]): void {
    const m = this.metrics
    const seen = new Set<string>()
    for (const r of rows) {
      const labels = { subscription: r.name }
      seen.add(r.name)
      m.subscriptionLag.set(labels, r.lag)
      m.subscriptionPending.set(labels, r.pending)
      m.subscriptionRedelivered.set(labels, r.redelivered)
      m.subscriptionDeadLetters.set(labels, r.deadLetters)
      m.subscriptionLagSeconds.set(labels, r.lagSeconds)
      subscriptionLagHistory(m).record(r.name, r.partitions)
    }
    for (const gone of [...this.known].filter((n) => !seen.has(n))) {
      subscriptionLagHistory(m).forget(gone)
      for (const g of [
        m.subscriptionLag,
        m.subscriptionPending,
        m.subscriptionRedelivered,
        m.subscriptionDeadLetters,
        m.subscriptionLagSeconds,
      ]) {
        g.remove({ subscription: gone })
      }
    }
    this.known = seen
  }

  /** Seconds since the oldest unconsumed event was committed, over the subscription's partitions. */
  private async oldestAge(
    partitions: Array<{ topic: string; partition: number; position: number; lag: number }>,
  ) {
    const behind = partitions.filter((p) => p.lag > 0)
    if (behind.length === 0) return 0
    // one read per topic, naming its id: a join over every topic's log would lock all of them
    const topics = [...new Set(behind.map((p) => p.topic))]
    const ids = await this.sql`SELECT id, name FROM ql_topics WHERE name = ANY(${topics}::text[])`
    let oldestMs = Number.POSITIVE_INFINITY
    for (const t of ids) {
      const mine = behind.filter((p) => p.topic === t.name)
      const rows = await this.sql`
        SELECT (extract(epoch FROM min(e.time)) * 1000)::float8 AS oldest FROM ql_events e
        JOIN unnest(${mine.map((p) => p.partition)}::int[], ${mine.map((p) => p.position)}::bigint[]) AS u(p, o)
          ON e.partition = u.p AND e."offset" = u.o
        WHERE e.topic_id = ${t.id as number}`
      const at = rows[0]?.oldest
      if (at !== null && at !== undefined) oldestMs = Math.min(oldestMs, Number(at))
    }
    return Number.isFinite(oldestMs) ? Math.max(0, (Date.now() - oldestMs) / 1000) : 0
  }
}
