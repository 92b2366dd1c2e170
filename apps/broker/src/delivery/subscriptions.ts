import {
  type CreateSubscription,
  compileSubjectPattern,
  parseTimeParam,
  type StartPosition,
  SubscriptionExistsError,
  SubscriptionNotFoundError,
  subjectPatternToRegex,
  type Webhook,
} from '@questlog/protocol'
import type { QuotaOwner } from '../auth/quotas'
import type { Sql } from '../storage/db'
import { highWatermarks, lowWatermarks, offsetsForTime } from '../storage/event-store'
import type { Topic, TopicService } from '../topics/topic-service'

export interface Subscription {
  id: number
  name: string
  topicPattern: string
  typeFilter: string | null
  mode: 'stream' | 'queue'
  /** Queue mode: `key` hands out one event of a key at a time, in offset order. */
  ordering: 'none' | 'key'
  start: StartPosition
  ackWaitMs: number
  maxDeliveries: number
  backoffMs: number[]
  sessionTimeoutMs: number
  paused: boolean
  webhook: Webhook | null
  /** Bumped whenever positions move back, so handed-out state is dropped. */
  epoch: number
  createdAt: Date
}

function fromRow(r: Record<string, unknown>): Subscription {
  return {
    id: Number(r.id),
    name: r.name as string,
    topicPattern: r.topic_pattern as string,
    typeFilter: (r.type_filter as string | null) ?? null,
    mode: r.mode as 'stream' | 'queue',
    ordering: r.ordering === 'key' ? 'key' : 'none',
    start: JSON.parse(r.start_json as string) as StartPosition,
    ackWaitMs: Number(r.ack_wait_ms),
    maxDeliveries: Number(r.max_deliveries),
    backoffMs: (r.backoff_ms as number[]).map(Number),
    sessionTimeoutMs: Number(r.session_timeout_ms),
    paused: Boolean(r.paused),
    epoch: Number(r.epoch),
    webhook: r.webhook_json ? (JSON.parse(r.webhook_json as string) as Webhook) : null,
    createdAt: new Date(r.created_at as string),
  }
}

/**
 * The subscription's own topics, as a regular expression over `ql_topics.name`.
 * A stream subscription's offsets are stored under its name, which a WebSocket
 * consumer group may also use on other topics: a reset or a delete touches
 * only rows of these topics.
 */
function ownTopicsRegex(sub: Subscription): string {
  return subjectPatternToRegex(sub.topicPattern)
}

/** Where a subscription stands on one partition of one of its topics. */
export interface PartitionPosition {
  topic: Topic
  partition: number
  /** Every offset below is done (stream: committed; queue: handed out). */
  next: number
  /** Stream mode: handed out up to here (exclusive). */
  readTo: number
  /** Stream mode: offsets in [next, readTo) handed out and not acked, ascending. */
  unacked: number[]
  /** Stream mode: the member that last took the partition (null: nobody, or its ack was refused). */
  owner: string | null
}

/** Offsets to start each partition of `topic` from. */
export async function startOffsets(
  sql: Sql,
  topic: Topic,
  start: StartPosition,
): Promise<Map<number, number>> {
  if (start === 'earliest') return lowWatermarks(sql, topic.id)
  if (start === 'latest') return highWatermarks(sql, topic.id)
  if ('offset' in start) {
    const high = await highWatermarks(sql, topic.id)
    return new Map([...high].map(([p, h]) => [p, Math.min(start.offset, h)]))
  }
  return offsetsForTime(sql, topic.id, parseTimeParam(start.time)!.getTime())
}

/**
 * Subscription records and their positions. Queue subscriptions keep their
 * positions in ql_sub_positions; stream subscriptions (consumer groups) commit
 * to ql_consumer_offsets under their name, the same table WebSocket groups use.
 */
export class SubscriptionService {
  constructor(
    readonly sql: Sql,
    readonly topics: TopicService,
  ) {}

  private positionsTable(sub: Subscription): string {
    return sub.mode === 'stream' ? 'ql_consumer_offsets' : 'ql_sub_positions'
  }

  /** Creates a subscription; with an `owner`, it counts toward that key's quota of subscriptions. */
  async create(input: CreateSubscription, owner?: QuotaOwner): Promise<Subscription> {
    let row: Record<string, unknown> | undefined
    try {
      row = await this.sql.begin(async (tx) => {
        if (owner) {
          // under a lock of the key, so two creations at once cannot both pass its quota
          await tx`SELECT pg_advisory_xact_lock(hashtext(${`ql-quota:${owner.keyId}`}))`
          const [used] =
            await tx`SELECT count(*)::int AS n FROM ql_subscriptions WHERE owner_key = ${owner.keyId}`
          owner.check('subscriptions', Number(used!.n), 1)
        }
        const [created] = await tx`
          INSERT INTO ql_subscriptions (name, topic_pattern, type_filter, mode, ordering, start, ack_wait_ms, max_deliveries,
                                        backoff_ms, session_timeout_ms, webhook, owner_key)
          VALUES (${input.name}, ${input.topic}, ${input.typeFilter ?? null}, ${input.mode}, ${input.ordering},
                  ${JSON.stringify(input.from)}::jsonb,
                  ${input.ackWaitMs}, ${input.maxDeliveries}, ${input.backoffMs}::int[], ${input.sessionTimeoutMs},
                  ${input.webhook ? JSON.stringify(input.webhook) : null}::jsonb, ${owner?.keyId ?? null})
          RETURNING *, start::text AS start_json, webhook::text AS webhook_json`
        return created
      })
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new SubscriptionExistsError(input.name)
      throw e
    }
    const sub = fromRow(row!)
    // fix the start now: events published before the first pull still count
    await this.positions(sub, sub.start)
    return sub
  }

  async find(name: string): Promise<Subscription | undefined> {
    const [row] = await this
      .sql`SELECT *, start::text AS start_json, webhook::text AS webhook_json FROM ql_subscriptions WHERE name = ${name}`
    return row ? fromRow(row) : undefined
  }

  async get(name: string): Promise<Subscription> {
    const sub = await this.find(name)
    if (!sub) throw new SubscriptionNotFoundError(name)
    return sub
  }

  async list(): Promise<Subscription[]> {
    return (
      await this
        .sql`SELECT *, start::text AS start_json, webhook::text AS webhook_json FROM ql_subscriptions ORDER BY name`
    ).map(fromRow)
  }

  async delete(name: string): Promise<void> {
    const sub = await this.get(name)
    await this.sql.begin(async (tx) => {
      // what a queue subscription holds goes with its row (ON DELETE CASCADE)
      if (sub.mode === 'stream')
        await tx`DELETE FROM ql_consumer_offsets WHERE group_name = ${sub.name}
                 AND topic_id IN (SELECT id FROM ql_topics WHERE name ~ ${ownTopicsRegex(sub)})`
      await tx`DELETE FROM ql_subscriptions WHERE id = ${sub.id}`
    })
  }

  async setPaused(name: string, paused: boolean): Promise<Subscription> {
    const [row] = await this
      .sql`UPDATE ql_subscriptions SET paused = ${paused} WHERE name = ${name} RETURNING *, start::text AS start_json, webhook::text AS webhook_json`
    if (!row) throw new SubscriptionNotFoundError(name)
    return fromRow(row)
  }

  /** Moves every partition to `to`; a queue subscription also forgets what it had pending. */
  async reset(name: string, to: StartPosition): Promise<Subscription> {
    const sub = await this.get(name)
    await this.sql.begin(async (tx) => {
      await tx.unsafe(
        `DELETE FROM ${this.positionsTable(sub)} WHERE ${this.ownerColumn(sub)} = $1
           AND topic_id IN (SELECT id FROM ql_topics WHERE name ~ $2)`,
        [this.owner(sub), ownTopicsRegex(sub)],
      )
      if (sub.mode === 'queue') {
        await tx`DELETE FROM ql_pending WHERE subscription_id = ${sub.id}`
        await tx`DELETE FROM ql_settled WHERE subscription_id = ${sub.id}`
      }
      await tx`UPDATE ql_subscriptions SET epoch = epoch + 1 WHERE id = ${sub.id}`
    })
    await this.positions(sub, to)
    return sub
  }

  private ownerColumn(sub: Subscription): string {
    return sub.mode === 'stream' ? 'group_name' : 'subscription_id'
  }

  private owner(sub: Subscription): string | number {
    return sub.mode === 'stream' ? sub.name : sub.id
  }

  async matchingTopics(sub: Subscription): Promise<Topic[]> {
    const match = compileSubjectPattern(sub.topicPattern)
    return (await this.topics.list()).filter((t) => match(t.name))
  }

  /**
   * The subscription's position on every partition of every matching topic.
   * A partition seen for the first time starts at `start` (a topic created after
   * the subscription starts at its beginning: all of it is new).
   */
  async positions(sub: Subscription, start: StartPosition = 'earliest'): Promise<PartitionPosition[]> {
    const topics = await this.matchingTopics(sub)
    const table = this.positionsTable(sub)
    const col = this.ownerColumn(sub)
    const extra = sub.mode === 'stream' ? ', read_to, unacked, owner' : ''
    const rows = await this.sql.unsafe(
      `SELECT topic_id, partition, next_offset${extra} FROM ${table} WHERE ${col} = $1`,
      [this.owner(sub)],
    )
    const known = new Map(rows.map((r) => [`${r.topic_id}:${r.partition}`, Number(r.next_offset)]))
    const handed = new Map(
      rows
        .filter((r) => r.read_to !== undefined && r.read_to !== null)
        .map((r) => [
          `${r.topic_id}:${r.partition}`,
          {
            readTo: Number(r.read_to),
            unacked: (r.unacked as Array<string | number>).map(Number),
            owner: (r.owner as string | null) ?? null,
          },
        ]),
    )
    const out: PartitionPosition[] = []
    for (const topic of topics) {
      let offsets: Map<number, number> | undefined
      for (let p = 0; p < topic.partitions; p++) {
        let next = known.get(`${topic.id}:${p}`)
        if (next === undefined) {
          offsets ??= await startOffsets(
            this.sql,
            topic,
            topic.createdAt > sub.createdAt ? 'earliest' : start,
          )
          next = offsets.get(p) ?? 0
          await this.sql.unsafe(
            `INSERT INTO ${table} (${col}, topic_id, partition, next_offset) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
            [this.owner(sub), topic.id, p, next],
          )
        }
        const h = handed.get(`${topic.id}:${p}`)
        const readTo = Math.max(next, h?.readTo ?? next)
        out.push({
          topic,
          partition: p,
          next,
          readTo,
          unacked: (h?.unacked ?? []).filter((o) => o >= next && o < readTo),
          owner: h?.owner ?? null,
        })
      }
    }
    return out
  }
}
