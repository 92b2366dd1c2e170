import { isQuestlogError } from '@questlog/protocol'
import type { Logger } from 'pino'
import type { Metrics } from '../observability/metrics'
import { subscriptionLagHistory } from '../observability/timeseries'
import type { Sql } from '../storage/db'
import type { DeliveryService } from './delivery-service'

/** Refreshes the per-subscription gauges (lag, pending, redelivered, dead letters) every few seconds. */
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

  start(intervalMs: number): void {
    const tick = () => {
      this.round = this.collect()
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

  async collect(): Promise<void> {
    const m = this.metrics
    const seen = new Set<string>()
    for (const sub of await this.delivery.subs.list()) {
      const r = await this.delivery.report(sub.name).catch((e) => {
        // deleted since the list was read
        if (isQuestlogError(e) && e.code === 'subscription_not_found') return undefined
        throw e
      })
      if (!r) continue
      const labels = { subscription: sub.name }
      seen.add(sub.name)
      m.subscriptionLag.set(labels, r.lag)
      m.subscriptionPending.set(labels, r.pending)
      m.subscriptionRedelivered.set(labels, r.redelivered)
      m.subscriptionDeadLetters.set(labels, r.deadLetters)
      m.subscriptionLagSeconds.set(labels, await this.oldestAge(r.partitions))
      subscriptionLagHistory(m).record(sub.name, r.partitions)
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
    const rows = await this.sql`
      SELECT min(e.time) AS oldest FROM ql_events e JOIN ql_topics t ON t.id = e.topic_id
      JOIN unnest(${behind.map((p) => p.topic)}::text[], ${behind.map((p) => p.partition)}::int[],
                  ${behind.map((p) => p.position)}::bigint[]) AS u(topic, p, o)
        ON t.name = u.topic AND e.partition = u.p AND e."offset" = u.o`
    const oldest = rows[0]?.oldest
    return oldest ? Math.max(0, (Date.now() - new Date(oldest as string).getTime()) / 1000) : 0
  }
}
