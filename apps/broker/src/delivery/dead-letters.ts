import { isQuestlogError } from '@questlog/protocol'
import { BROKER } from '../auth/principal'
import { copyOfStored } from '../publish/copy-event'
import type { PublishPipeline } from '../publish/pipeline'
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
    private readonly pipeline: PublishPipeline,
  ) {}

  /** Records dead letters inside the caller's transaction; returns their ids. */
  async record(tx: TransactionSql, sub: Subscription, items: DeadLetterInput[]): Promise<number[]> {
    if (items.length === 0) return []
    const rows = await tx`
      INSERT INTO ql_dead_letters (subscription_id, topic_id, partition, "offset", reason, deliveries, copy_pending)
      SELECT ${sub.id}, u.t, u.p, u.o, u.r, u.d, true
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
    const settle = (id: unknown) =>
      this.sql`UPDATE ql_dead_letters SET copy_pending = false WHERE id = ${id as number}`
    for (const r of rows) {
      const [event] = await readAt(this.sql, Number(r.topic_id), Number(r.partition), [Number(r.offset)])
      // dropped by retention meanwhile: the record stays, without a copy
      if (!event) {
        await settle(r.id)
        continue
      }
      const copy = this.pipeline.publish({
        door: 'dead-letter',
        topic: dlq.name,
        principal: BROKER,
        batch: true,
        events: [
          copyOfStored(event, {
            headers: {
              'ql-dlq-reason': String(r.reason),
              'ql-dlq-deliveries': String(r.deliveries),
              'ql-dlq-subscription': sub.name,
              'ql-dlq-topic': String(r.topic),
              'ql-dlq-partition': String(r.partition),
              'ql-dlq-offset': String(r.offset),
            },
            dedupeKey: `dead-letter-${r.id}`,
            partition: 0,
          }),
        ],
      })
      // a copy the pipeline refuses (it would not fit the dead-letter topic) leaves the record without one
      const result = await copy.catch((e: unknown) => {
        if (isQuestlogError(e) && !e.retryable) return undefined
        throw e
      })
      if (!result || !('receipts' in result)) {
        await settle(r.id)
        continue
      }
      const receipt = result.receipts[0]!
      await this
        .sql`UPDATE ql_dead_letters SET dlq_partition = ${receipt.partition}, dlq_offset = ${receipt.offset},
                            copy_pending = false WHERE id = ${r.id}`
    }
  }

  /**
   * Publishes the copies that brokers recorded but did not publish (they died in between), once
   * they are older than `olderThanMs`: younger ones are still in their recording broker's hands.
   * The copies' dedupe keys make a copy published twice one copy.
   */
  async sweep(subs: { find(name: string): Promise<Subscription | undefined> }, olderThanMs: number) {
    const rows = await this.sql`
      SELECT s.name, array_agg(d.id ORDER BY d.id) AS ids FROM ql_dead_letters d
      JOIN ql_subscriptions s ON s.id = d.subscription_id
      WHERE d.copy_pending AND d.dead_at < now() - make_interval(secs => ${olderThanMs / 1000})
      GROUP BY s.name LIMIT 100`
    for (const r of rows) {
      const sub = await subs.find(r.name as string)
      if (sub) await this.publishCopies(sub, (r.ids as string[]).map(Number))
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
        // a redriven event is un-acked again: its partition's owner delivers it before reading on
        await tx`UPDATE ql_subscriptions SET epoch = epoch + 1 WHERE id = ${sub.id}`
        for (const r of rows) {
          const offset = Number(r.offset)
          await tx`UPDATE ql_consumer_offsets
                   SET read_to = coalesce(read_to, next_offset), next_offset = LEAST(next_offset, ${offset}),
                       unacked = ARRAY(SELECT DISTINCT x FROM unnest(unacked || ${offset}::bigint) x ORDER BY x)
                   WHERE group_name = ${sub.name} AND topic_id = ${Number(r.topic_id)} AND partition = ${Number(r.partition)}`
        }
      }
      return rows.length
    })
  }
}
