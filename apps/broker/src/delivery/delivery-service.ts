import { type CreateSubscription, type StartPosition, ValidationError } from '@questlog/protocol'
import type { QuotaOwner } from '../auth/quotas'
import type { Fanout } from '../fanout/fanout'
import type { Metrics } from '../observability/metrics'
import { traceDelivery } from '../observability/tracing'
import type { PublishPipeline } from '../publish/pipeline'
import type { Sql } from '../storage/db'
import { highWatermarks } from '../storage/event-store'
import type { TopicService } from '../topics/topic-service'
import { DeadLetters } from './dead-letters'
import type { Delivery } from './delivery'
import { GroupConsumer, type MemberAssignment } from './group-consumer'
import type { OutboundGuard } from './outbound-guard'
import { QueueConsumer } from './queue-consumer'
import { type Subscription, SubscriptionService } from './subscriptions'

export interface PartitionLag {
  topic: string
  partition: number
  /** Committed offset (stream) or next offset to hand out (queue). */
  position: number
  high: number
  lag: number
}

export interface SubscriptionReport {
  subscription: Subscription
  partitions: PartitionLag[]
  lag: number
  pending: number
  redelivered: number
  deadLetters: number
  members: MemberAssignment[]
}

const POLL_TICK_MS = 100

/** Subscriptions as consumers see them: pull, ack, nak, term, dead letters; one entry point for HTTP and tRPC. */
export class DeliveryService {
  readonly subs: SubscriptionService
  readonly deadLetters: DeadLetters
  readonly queue: QueueConsumer
  readonly group: GroupConsumer

  constructor(
    private readonly sql: Sql,
    topics: TopicService,
    pipeline: PublishPipeline,
    private readonly fanout: Fanout,
    private readonly outbound: OutboundGuard,
    private readonly metrics?: Metrics,
  ) {
    this.subs = new SubscriptionService(sql, topics)
    this.deadLetters = new DeadLetters(sql, topics, pipeline)
    this.queue = new QueueConsumer(sql, this.subs, this.deadLetters)
    this.group = new GroupConsumer(sql, this.subs, this.deadLetters)
  }

  async create(input: CreateSubscription, owner?: QuotaOwner): Promise<Subscription> {
    if (input.webhook && input.mode !== 'stream') {
      throw new ValidationError([
        {
          path: 'mode',
          message: 'webhook subscriptions are consumer groups (mode stream): order per partition is kept',
        },
      ])
    }
    if (input.ordering === 'key' && input.mode !== 'queue') {
      throw new ValidationError([
        {
          path: 'ordering',
          message:
            "key ordering is for queue subscriptions (mode 'queue'); a stream is ordered per partition",
        },
      ])
    }
    // checked again at every connection; this one tells the caller now rather than in the attempt log
    const refused = input.webhook ? await this.outbound.check(input.webhook.url) : null
    if (refused) throw new ValidationError([{ path: 'webhook.url', message: refused }])
    return this.subs.create(input, owner)
  }

  /**
   * Pulls up to `max` deliveries, of at most `maxBytes` payload bytes past the first; with
   * `waitMs`, waits for events to arrive when none are ready.
   */
  async pull(
    name: string,
    member: string,
    max: number,
    waitMs: number,
    signal?: AbortSignal,
    maxBytes?: number,
  ): Promise<Delivery[]> {
    const deadline = Date.now() + waitMs
    for (;;) {
      const sub = await this.subs.get(name)
      const got =
        sub.mode === 'queue'
          ? await this.queue.pull(sub, member, max, maxBytes)
          : await this.group.pull(sub, member, max, maxBytes)
      this.observe(sub.name, got)
      if (got.length > 0 || Date.now() >= deadline || signal?.aborted) return got
      await this.waitForEvents(sub, Math.min(deadline - Date.now(), POLL_TICK_MS * 10))
    }
  }

  /** Counts deliveries and, for first deliveries, how long after their commit they went out. */
  observe(subscription: string, got: Delivery[]): void {
    if (!this.metrics || got.length === 0) return
    this.metrics.delivered.inc({ subscription }, got.length)
    for (const d of got) {
      traceDelivery(d.topic, d.event.headersJson, {
        'messaging.consumer.group.name': subscription,
        'questlog.deliveries': d.deliveries,
      })
    }
    const now = Date.now()
    for (const d of got)
      if (d.deliveries === 1) this.metrics.deliveryLatency.observe((now - d.event.time.getTime()) / 1000)
  }

  private async waitForEvents(sub: Subscription, ms: number): Promise<void> {
    const topics = await this.subs.matchingTopics(sub)
    await new Promise<void>((resolve) => {
      const offs: Array<() => void> = []
      const done = () => {
        clearTimeout(timer)
        for (const off of offs) off()
        resolve()
      }
      // due redeliveries and group changes have no event to wake on: re-check on a short tick
      const timer = setTimeout(done, Math.max(0, Math.min(ms, sub.mode === 'queue' ? POLL_TICK_MS * 2 : ms)))
      for (const t of topics) offs.push(this.fanout.subscribe(t.id, { onCommit: done, onAdvance: done }))
    })
  }

  async ack(name: string, tokens: string[]): Promise<number> {
    const sub = await this.subs.get(name)
    return sub.mode === 'queue' ? this.queue.ack(sub, tokens) : this.group.ack(sub, tokens)
  }

  async nak(name: string, token: string, delayMs?: number): Promise<{ redeliverInMs: number }> {
    const sub = await this.subs.get(name)
    return sub.mode === 'queue' ? this.queue.nak(sub, token, delayMs) : this.group.nak(sub, token)
  }

  async term(name: string, token: string, reason: string): Promise<void> {
    const sub = await this.subs.get(name)
    return sub.mode === 'queue' ? this.queue.term(sub, token, reason) : this.group.term(sub, token, reason)
  }

  async pause(name: string, paused: boolean): Promise<Subscription> {
    return this.subs.setPaused(name, paused)
  }

  async reset(name: string, to: StartPosition): Promise<Subscription> {
    return this.subs.reset(name, to)
  }

  async delete(name: string): Promise<void> {
    await this.subs.delete(name)
  }

  async report(name: string): Promise<SubscriptionReport> {
    const sub = await this.subs.get(name)
    const positions = await this.subs.positions(sub)
    const highs = new Map<number, Map<number, number>>()
    const partitions: PartitionLag[] = []
    for (const p of positions) {
      if (!highs.has(p.topic.id)) highs.set(p.topic.id, await highWatermarks(this.sql, p.topic.id))
      const high = highs.get(p.topic.id)!.get(p.partition) ?? 0
      partitions.push({
        topic: p.topic.name,
        partition: p.partition,
        position: p.next,
        high,
        lag: Math.max(0, high - p.next),
      })
    }
    const counts = sub.mode === 'queue' ? await this.queue.counts(sub) : { pending: 0, redelivered: 0 }
    return {
      subscription: sub,
      partitions,
      // queue mode: handed out but not acked still counts as lag
      lag: partitions.reduce((s, p) => s + p.lag, 0) + counts.pending,
      ...counts,
      deadLetters: await this.deadLetters.count(sub),
      members: sub.mode === 'stream' ? await this.group.assignments(sub) : [],
    }
  }
}
