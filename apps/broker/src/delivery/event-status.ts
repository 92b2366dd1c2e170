import { compileSubjectPattern, NotFoundError } from '@questlog/protocol'
import type { Sql } from '../storage/db'
import type { Subscription, SubscriptionService } from './subscriptions'

export type DeliveryState = 'not_delivered' | 'pending' | 'acked' | 'dead_lettered' | 'filtered_out'

export interface EventStatus {
  id: string
  topic: string
  partition: number
  offset: string
  time: string
  type: string
  subscriptions: Array<{
    name: string
    mode: 'stream' | 'queue'
    state: DeliveryState
    deliveries?: number
    member?: string | null
    reason?: string
  }>
}

// ids the broker assigns are UUIDv7: their first 48 bits are the publish time,
// which narrows the search to a few segments and BRIN ranges
const WINDOW_MS = 10 * 60_000

function uuidv7Time(id: string): number | undefined {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-/i.exec(id)
  return m ? Number.parseInt(m[1]! + m[2]!, 16) : undefined
}

/** What the caller may see: an event of a topic it has no right on answers as one that does not exist. */
export interface EventStatusAccess {
  topic(name: string): boolean
  subscription(sub: Subscription): boolean
}

/** Which event: by its id, or by CloudEvents' source + id (the pair a CloudEvents producer knows). */
export type EventLookup = { id: string; source?: string | undefined }

// copies (a replay into another topic, a dead letter) keep the event's id and source: the first
// few are looked through for one the caller may see, the original (the earliest) first
const CANDIDATES = 20

/** Where an event is and, per subscription of its topic, whether it was delivered, acked, is pending or dead. */
export async function eventStatus(
  sql: Sql,
  subs: SubscriptionService,
  lookup: EventLookup,
  access: EventStatusAccess,
): Promise<EventStatus> {
  const { id, source } = lookup
  const bySource = source === undefined ? sql`` : sql`AND e.source = ${source}`
  const find = (near: ReturnType<typeof sql>) => sql`
    SELECT e.topic_id, t.name AS topic, e.partition, e."offset", (extract(epoch FROM e.time) * 1000)::float8 AS time_ms, e.type
    FROM ql_events e JOIN ql_topics t ON t.id = e.topic_id WHERE e.id = ${id} ${bySource} ${near}
    ORDER BY e.time LIMIT ${CANDIDATES}`
  const at = uuidv7Time(id)
  let rows =
    at === undefined
      ? await find(sql``)
      : await find(sql`AND e.time BETWEEN ${new Date(at - WINDOW_MS).toISOString()}::timestamptz
                                      AND ${new Date(at + WINDOW_MS).toISOString()}::timestamptz`)
  // a scheduled event keeps the id it got when scheduled: search everything
  if (rows.length === 0 && at !== undefined) rows = await find(sql``)
  const row = rows.find((r) => access.topic(r.topic as string))
  if (!row) {
    const what = source === undefined ? `id '${id}'` : `source '${source}' and id '${id}'`
    throw new NotFoundError(`no event with ${what}`, source === undefined ? { id } : { id, source })
  }
  const topicId = Number(row.topic_id)
  const partition = Number(row.partition)
  const offset = Number(row.offset)
  const type = row.type as string
  const out: EventStatus = {
    id,
    topic: row.topic as string,
    partition,
    offset: String(offset),
    time: new Date(Number(row.time_ms)).toISOString(),
    type,
    subscriptions: [],
  }
  for (const sub of await subs.list()) {
    if (!compileSubjectPattern(sub.topicPattern)(out.topic) || !access.subscription(sub)) continue
    out.subscriptions.push({
      name: sub.name,
      mode: sub.mode,
      ...(await stateIn(sql, sub, { topicId, partition, offset, type })),
    })
  }
  return out
}

export interface EventCoordinates {
  topicId: number
  partition: number
  offset: number
  type: string
}

/** The state of one event in one subscription of its topic. */
export async function stateIn(
  sql: Sql,
  sub: Subscription,
  e: EventCoordinates,
): Promise<{ state: DeliveryState; deliveries?: number; member?: string | null; reason?: string }> {
  if (sub.typeFilter !== null && !compileSubjectPattern(sub.typeFilter)(e.type))
    return { state: 'filtered_out' }
  const [dead] = await sql`
    SELECT reason, deliveries FROM ql_dead_letters WHERE subscription_id = ${sub.id} AND topic_id = ${e.topicId}
      AND partition = ${e.partition} AND "offset" = ${e.offset} AND redriven_at IS NULL LIMIT 1`
  if (dead)
    return { state: 'dead_lettered', reason: dead.reason as string, deliveries: Number(dead.deliveries) }
  if (sub.mode === 'queue') {
    const [pending] = await sql`
      SELECT deliveries, member FROM ql_pending WHERE subscription_id = ${sub.id} AND topic_id = ${e.topicId}
        AND partition = ${e.partition} AND "offset" = ${e.offset}`
    if (pending)
      return {
        state: 'pending',
        deliveries: Number(pending.deliveries),
        member: pending.member as string | null,
      }
  }
  const table =
    sub.mode === 'queue'
      ? sql`ql_sub_positions WHERE subscription_id = ${sub.id}`
      : sql`ql_consumer_offsets WHERE group_name = ${sub.name}`
  const [pos] =
    await sql`SELECT next_offset, ${sub.mode === 'stream' ? sql`read_to, unacked` : sql`NULL AS read_to, '{}'::bigint[] AS unacked`}
    FROM ${table} AND topic_id = ${e.topicId} AND partition = ${e.partition}`
  if (!pos) return { state: 'not_delivered' }
  if (Number(pos.next_offset) > e.offset) return { state: 'acked' }
  // a consumer group also knows what it handed out above the floor, and which of that is not acked
  const readTo = pos.read_to === null ? Number(pos.next_offset) : Number(pos.read_to)
  const unacked = (pos.unacked as Array<string | number>).map(Number).includes(e.offset)
  return { state: e.offset < readTo && !unacked ? 'acked' : 'not_delivered' }
}
