import {
  BackpressureError,
  type BackpressureHint,
  partitionForKey,
  type Receipt,
  TopicNotFoundError,
} from '@questlog/protocol'
import type { Metrics } from '../observability/metrics'
import type { Sql } from '../storage/db'
import type { StoredEvent } from '../storage/event-store'
import type { SegmentRegistry } from '../storage/segments'
import type { Topic, TopicService } from '../topics/topic-service'
import type { WriteLanes } from './lanes'
import { PartitionWriter } from './partition-writer'
import type { PreparedEvent } from './validate'

export interface PublisherOptions {
  sql: Sql
  topics: TopicService
  segments: SegmentRegistry
  metrics: Metrics
  maxBatchEvents: number
  softQueueEvents: number
  hardQueueEvents: number
  notifyChannel: string
  /** Write connections; each partition writes on one of them. */
  lanes: WriteLanes
  notifyPrefix: (topicId: number, partition: number) => string
  /** Committed events for live readers; `events` builds them, called only if anyone listens. */
  onCommitted: (topicId: number, partition: number, first: number, events: () => StoredEvent[]) => void
  /** Seals payloads for encrypted topics before they are queued. */
  encrypt: (topic: Topic, events: PreparedEvent[]) => Promise<void>
}

/** A publish's place among the publishes of its connection (see the WebSocket's publish). */
export interface PublishTurn {
  /** Called right before the events join their partitions' queues; throws to refuse them. */
  admit(): void
  /** Called once they wait there, in the order they will be written. */
  queued(): void
}

export interface PublishResult {
  receipts: Receipt[]
  backpressure?: BackpressureHint
}

/** Routes events to their partitions' writers and gathers the receipts in request order. */
export class Publisher {
  private readonly writers = new Map<string, PartitionWriter>()
  private readonly sticky = new Map<number, number>()
  private readonly topicById = new Map<number, Topic>()

  constructor(private readonly o: PublisherOptions) {}

  /** Publishes events already checked by `prepareEvent`; resolves after COMMIT. */
  async publish(topic: Topic, events: PreparedEvent[], turn?: PublishTurn): Promise<PublishResult> {
    this.topicById.set(topic.id, topic)
    const started = performance.now()
    if (topic.encryption !== 'none') await this.o.encrypt(topic, events)
    // keyless events of one request share one partition, so they commit together (sticky partitioning)
    let spread: number | undefined
    const byPartition = new Map<number, number[]>()
    events.forEach((e, i) => {
      let p = e.partition
      if (p === undefined && e.key !== null) p = partitionForKey(e.key, topic.partitions)
      if (p === undefined) {
        if (spread === undefined) {
          spread = ((this.sticky.get(topic.id) ?? -1) + 1) % topic.partitions
          this.sticky.set(topic.id, spread)
        }
        p = spread
      }
      const list = byPartition.get(p)
      if (list) list.push(i)
      else byPartition.set(p, [i])
    })

    let deepest = 0
    for (const [p] of byPartition) deepest = Math.max(deepest, this.writer(topic, p).queued)
    if (deepest >= this.o.hardQueueEvents) {
      this.o.metrics.rejected.inc({ reason: 'backpressure' })
      throw new BackpressureError(
        `topic '${topic.name}' is writing ${deepest} queued events; retry shortly`,
        this.retryAfterMs(deepest),
        { topic: topic.name },
      )
    }

    turn?.admit()
    const receipts: Receipt[] = new Array(events.length)
    const appended = [...byPartition].map(([p, indexes]) =>
      this.writer(topic, p)
        .append(indexes.map((i) => events[i]!))
        .then((results) => {
          indexes.forEach((i, j) => {
            const r = results[j]!
            receipts[i] = {
              id: r.id,
              partition: r.partition,
              offset: String(r.offset),
              duplicate: r.duplicate,
            }
          })
        }),
    )
    turn?.queued()
    await Promise.all(appended).catch((e) => {
      throw this.translate(e, topic)
    })
    const bytes = events.reduce((sum, e) => sum + e.size, 0)
    this.o.metrics.eventsIn.inc({ topic: topic.name }, events.length)
    this.o.metrics.bytesIn.inc({ topic: topic.name }, bytes)
    this.o.metrics.publishLatency.observe((performance.now() - started) / 1000)
    const result: PublishResult = { receipts }
    if (deepest >= this.o.softQueueEvents) {
      result.backpressure = {
        retryAfterMs: this.retryAfterMs(deepest),
        reason: `partition write queue holds ${deepest} events`,
      }
    }
    return result
  }

  /** Queue depth of the deepest partition writer, for health and metrics. */
  maxQueueDepth(): number {
    let max = 0
    for (const w of this.writers.values()) max = Math.max(max, w.queued)
    return max
  }

  dropTopic(topicId: number): void {
    for (const [key, w] of this.writers) {
      if (key.startsWith(`${topicId}:`)) {
        w.failAll(new Error('topic deleted'))
        this.writers.delete(key)
      }
    }
    this.topicById.delete(topicId)
  }

  refreshTopic(topic: Topic): void {
    this.topicById.set(topic.id, topic)
  }

  private retryAfterMs(depth: number): number {
    return Math.min(5000, Math.max(50, Math.round(depth / 50)))
  }

  private writer(topic: Topic, partition: number): PartitionWriter {
    const key = `${topic.id}:${partition}`
    let w = this.writers.get(key)
    if (!w) {
      const id = topic.id
      w = new PartitionWriter(() => this.topicById.get(id) ?? topic, partition, {
        sql: this.o.sql,
        segments: this.o.segments,
        maxBatchEvents: this.o.maxBatchEvents,
        notifyChannel: this.o.notifyChannel,
        lane: () => this.o.lanes.of(key, topic.id * 31 + partition),
        isolate: () => this.o.lanes.isolate(key, () => this.writers.get(key)?.queued === 0),
        notifyPrefix: this.o.notifyPrefix,
        onCommitted: this.o.onCommitted,
        onBatch: (n) => this.o.metrics.batchSize.observe(n),
      })
      this.writers.set(key, w)
    }
    return w
  }

  private translate(e: unknown, topic: Topic): unknown {
    const code = (e as { code?: string }).code
    // the topic's tables vanished under the writer: it was deleted meanwhile
    if (
      code === '23503' ||
      code === '42P01' ||
      code === '23514' ||
      (e as Error).message === 'topic deleted'
    ) {
      return new TopicNotFoundError(topic.name)
    }
    return e
  }
}
