import type { Publisher } from '../publish/publisher'
import type { Sql, TransactionSql } from '../storage/db'
import { readAt } from '../storage/event-store'
import type { TopicService } from '../topics/topic-service'
import type { Subscription } from './subscriptions'

export interface DeadLetterInput {
  topicId: number
  partition: number
  offset: number
  deliveries: number
  reason: string
}

export interface DeadLetterRow {
  id: number
  topicId: number
  partition: number
  offset: number
  reason: string
  deliveries: number
  dlqPartition: number | null
  dlqOffset: number | null
  deadAt: Date
  redrivenAt: Date | null
}

export function deadLetterTopicName(subscription: string): string {
  return `${subscription}.dlq`
}

/**
 * Events a subscription gave up on. The table is the record (reason, delivery
 * count, status); a copy of each event also goes to the subscription's
 * dead-letter topic, with the reason and count in its headers, for consumers.
 */
export class DeadLetters {
  constructor(
    private readonly sql: Sql,
    private readonly topics: TopicService,
    private readonly publisher: Publisher,
  ) {}

  /** Records dead letters inside the caller's transaction; returns their ids. */
  async record(tx: TransactionSql, sub: Subscription, items: DeadLetterInput[]): Promise<number[]> {
    if (items.length === 0) return []
    const rows = await tx`
      INSERT INTO ql_dead_letters (subscription_id, topic_id, partition, "offset", reason, deliveries)
      SELECT ${sub.id}, u.t, u.p, u.o, u.r, u.d
      FROM unnest(${items.map((i) => i.topicId)}::int[], ${items.map((i) => i.partition)}::int[],
                  ${items.map((i) => i.offset)}::bigint[], ${items.map((i) => i.reason)}::text[],
                  ${items.map((i) => i.deliveries)}::int[]) AS u(t, p, o, r, d)
      RETURNING id`
    return rows.map((r) => Number(r.id))
  }

  /** Publishes the copies of recorded dead letters to the dead-letter topic (idempotent by dedupe key). */
  async publishCopies(sub: Subscription, ids: number[]): Promise<void> {
    if (ids.length === 0) return
    const name = deadLetterTopicName(sub.name)
    const rows = await this.sql`
      SELECT d.id, d.topic_id, d.partition, d."offset", d.reason, d.deliveries, t.name AS topic, t.encryption
      FROM ql_dead_letters d JOIN ql_topics t ON t.id = d.topic_id WHERE d.id = ANY(${ids}::bigint[]) ORDER BY d.id`
    // copies of encrypted events stay encrypted at rest
    const sealed = rows.some((r) => r.encryption !== 'none')
    const dlq = await this.topics.ensure({
      name,
      partitions: 1,
      dedupeWindowMs: 86_400_000,
      maxEventBytes: 8 * 1024 * 1024,
      encryption: sealed ? 'topic' : 'none',
    })
    for (const r of rows) {
      const [event] = await readAt(this.sql, Number(r.topic_id), Number(r.partition), [Number(r.offset)])
      if (!event) continue // dropped by retention meanwhile: the record stays, without a copy
      const headers = {
        ...(event.headersJson ? (JSON.parse(event.headersJson) as Record<string, string>) : {}),
        'ql-dlq-reason': String(r.reason),
        'ql-dlq-deliveries': String(r.deliveries),
        'ql-dlq-subscription': sub.name,
        'ql-dlq-topic': String(r.topic),
        'ql-dlq-partition': String(r.partition),
        'ql-dlq-offset': String(r.offset),
      }
      const result = await this.publisher.publish(dlq, [
        {
          id: event.id,
          type: event.type,
          source: event.source,
          key: event.key,
          contentType: event.contentType,
          data: event.data,
          // a sealed event's copy keeps its bytes and key: erasing a player's data key erases the copy too
          ...(event.sealed && { storedData: event.sealed.data, encKey: event.sealed.encKey }),
          size: event.data.length,
          headersJson: JSON.stringify(headers),
          dedupeKey: `dead-letter-${r.id}`,
          partition: 0,
        },
      ])
      const receipt = result.receipts[0]!
      await this
        .sql`UPDATE ql_dead_letters SET dlq_partition = ${receipt.partition}, dlq_offset = ${receipt.offset}
                     WHERE id = ${r.id}`
    }
  }

  async list(sub: Subscription, opts: { limit: number; includeRedriven: boolean }): Promise<DeadLetterRow[]> {
    const rows = await this.sql`
      SELECT * FROM ql_dead_letters
      WHERE subscription_id = ${sub.id} ${opts.includeRedriven ? this.sql`` : this.sql`AND redriven_at IS NULL`}
      ORDER BY id LIMIT ${opts.limit}`
    return rows.map((r) => ({
      id: Number(r.id),
      topicId: Number(r.topic_id),
      partition: Number(r.partition),
      offset: Number(r.offset),
      reason: r.reason as string,
      deliveries: Number(r.deliveries),
      dlqPartition: r.dlq_partition === null ? null : Number(r.dlq_partition),
      dlqOffset: r.dlq_offset === null ? null : Number(r.dlq_offset),
      deadAt: new Date(r.dead_at as string),
      redrivenAt: r.redriven_at === null ? null : new Date(r.redriven_at as string),
    }))
  }

  async count(sub: Subscription): Promise<number> {
    const [r] = await this
      .sql`SELECT count(*)::int AS n FROM ql_dead_letters WHERE subscription_id = ${sub.id} AND redriven_at IS NULL`
    return Number(r!.n)
  }

  /** Sends dead letters back to their subscription: each is delivered again as a fresh event. */
  async redrive(sub: Subscription, ids: number[] | 'all'): Promise<number> {
    return this.sql.begin(async (tx) => {
      const rows = await tx`
        UPDATE ql_dead_letters SET redriven_at = now()
        WHERE subscription_id = ${sub.id} AND redriven_at IS NULL
          ${ids === 'all' ? tx`` : tx`AND id = ANY(${ids}::bigint[])`}
        RETURNING topic_id, partition, "offset"`
      if (rows.length === 0) return 0
      if (sub.mode === 'queue') {
        await tx`
          INSERT INTO ql_pending (subscription_id, topic_id, partition, "offset", deliveries, deliver_after)
          SELECT ${sub.id}, u.t, u.p, u.o, 0, now()
          FROM unnest(${rows.map((r) => Number(r.topic_id))}::int[], ${rows.map((r) => Number(r.partition))}::int[],
                      ${rows.map((r) => Number(r.offset))}::bigint[]) AS u(t, p, o)
          ON CONFLICT (subscription_id, topic_id, partition, "offset")
          DO UPDATE SET deliveries = 0, attempt = NULL, member = NULL, deliver_after = now()`
      } else {
        // a consumer group re-reads from the earliest redriven offset of each partition
        await tx`UPDATE ql_subscriptions SET epoch = epoch + 1 WHERE id = ${sub.id}`
        for (const r of rows) {
          await tx`UPDATE ql_consumer_offsets SET next_offset = LEAST(next_offset, ${Number(r.offset)})
                   WHERE group_name = ${sub.name} AND topic_id = ${Number(r.topic_id)} AND partition = ${Number(r.partition)}`
        }
      }
      return rows.length
    })
  }
}
