import type { Logger } from 'pino'
import type { Metrics } from '../observability/metrics'
import type { Sql } from '../storage/db'
import { listSegments, type SegmentRegistry } from '../storage/segments'
import type { Topic, TopicService } from '../topics/topic-service'

export interface RetentionResult {
  dropped: Array<{ topic: string; startMs: number; reason: 'time' | 'size' }>
}

/**
 * Background upkeep of every topic: drops whole segments past the topic's
 * time or size retention (never a DELETE over the log), expires dedupe keys,
 * and creates the next segment before writers need it.
 */
export class RetentionWorker {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<RetentionResult> | undefined

  constructor(
    private readonly sql: Sql,
    private readonly topics: TopicService,
    private readonly segments: SegmentRegistry,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Runs a round every `intervalMs` while `leads` says so (one broker of a cluster does it for all). */
  start(intervalMs: number, leads: () => boolean = () => true): void {
    this.timer = setInterval(() => {
      if (!leads()) return
      this.runOnce().catch((err) => this.log.warn({ err }, 'retention round failed'))
    }, intervalMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.running?.catch(() => {})
  }

  /** One round over all topics; concurrent calls share the round in progress. */
  runOnce(now = Date.now()): Promise<RetentionResult> {
    this.running ??= this.round(now).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async round(now: number): Promise<RetentionResult> {
    const result: RetentionResult = { dropped: [] }
    for (const topic of await this.topics.list()) {
      await this.topic(topic, now, result)
    }
    return result
  }

  private async topic(topic: Topic, now: number, result: RetentionResult): Promise<void> {
    await this.segments.ensure(topic.id, topic.segmentMs, now)
    await this.segments.ensure(topic.id, topic.segmentMs, now + topic.segmentMs)
    // a topic that is only compacted keeps every key's latest event for good: retention leaves it to compaction
    const drops = topic.cleanup !== 'compact'
    let segs = await listSegments(this.sql, topic.id)
    const current = Math.floor(now / topic.segmentMs) * topic.segmentMs
    const drop = async (startMs: number, reason: 'time' | 'size') => {
      if (await this.segments.drop(topic.id, startMs)) {
        result.dropped.push({ topic: topic.name, startMs, reason })
        this.metrics.segmentsDropped.inc({ reason })
        this.log.info(
          { topic: topic.name, segment: new Date(startMs).toISOString(), reason },
          'segment dropped',
        )
        return true
      }
      return false
    }
    if (drops && topic.retentionMs !== null) {
      // a segment goes once its newest possible event is older than the retention
      for (const s of segs) {
        if (s.endMs <= now - topic.retentionMs && s.startMs < current) await drop(s.startMs, 'time')
      }
      segs = await listSegments(this.sql, topic.id)
    }
    if (drops && topic.retentionBytes !== null) {
      let total = segs.reduce((sum, s) => sum + s.bytes, 0)
      // oldest first, never the segment being written nor those ahead of it
      for (const s of segs) {
        if (total <= topic.retentionBytes || s.startMs >= current) break
        if (await drop(s.startMs, 'size')) total -= s.bytes
        else break
      }
    }
    const cutoff = new Date(now - topic.dedupeWindowMs).toISOString()
    await this.sql`DELETE FROM ql_dedupe WHERE topic_id = ${topic.id} AND created_at < ${cutoff}::timestamptz`
    await this
      .sql`DELETE FROM ql_producers WHERE topic_id = ${topic.id} AND updated_at < ${cutoff}::timestamptz`
  }
}
