import type { TransactionSql } from '../storage/db'

/**
 * Key order for queue subscriptions (`ordering: "key"`): of the pending rows of one key (per topic
 * partition) only the lowest offset may be handed out; the ones after it wait with
 * `deliver_after = 'infinity'`, which no due-redelivery query reaches. Whatever settles a key's
 * head (ack, term, dead-lettering, the event gone from the log) releases the next in the same
 * transaction, so the order lives in PostgreSQL and holds for every broker, across restarts.
 *
 * A pull that reads new events locks each key's head (`FOR KEY SHARE`) before it decides whether an
 * event goes out or waits: a settlement of the head either committed before (the event goes out)
 * or waits for the pull (and then releases the row the pull parked). Pulls take these locks before
 * any other row lock of theirs, a partition at a time; an ack of several tokens at once may still
 * meet a pull in the opposite order, and the one PostgreSQL aborts runs again (queue-consumer.ts).
 */

/** Offsets a partition may run ahead of its oldest pending event: bounds the rows a stuck key parks. */
export const KEY_ORDER_WINDOW = 10_000
/** New events one pull reads ahead on a partition; those it does not hand out wait as pending rows. */
export const KEY_READ_AHEAD = 500

export interface NewEventRef {
  offset: number
  key: string | null
  size: number
}

/** The next new events of a partition (offsets, keys and payload sizes; no payloads), below `high`. */
export async function readNew(
  tx: TransactionSql,
  topicId: number,
  partition: number,
  from: number,
  high: number,
  limit: number,
  typeRegex: string | undefined,
): Promise<NewEventRef[]> {
  const type = typeRegex === undefined ? tx`` : tx`AND type ~ ${typeRegex}`
  const rows = await tx`
    SELECT "offset", key, coalesce(octet_length(data), 0) AS size FROM ql_events
    WHERE topic_id = ${topicId} AND partition = ${partition} AND "offset" >= ${from} AND "offset" < ${high} ${type}
    ORDER BY "offset" LIMIT ${limit}`
  return rows.map((r) => ({
    offset: Number(r.offset),
    key: (r.key as string | null) ?? null,
    size: Number(r.size),
  }))
}

export interface KeyRef {
  topicId: number
  partition: number
  key: string | null
}

/** How many more offsets of this partition a pull may read before the window behind its oldest pending row is full. */
export async function windowRoom(
  tx: TransactionSql,
  subscriptionId: number,
  topicId: number,
  partition: number,
  from: number,
): Promise<number> {
  const [r] = await tx`
    SELECT min("offset") AS oldest FROM ql_pending
    WHERE subscription_id = ${subscriptionId} AND topic_id = ${topicId} AND partition = ${partition}`
  if (r?.oldest === null || r?.oldest === undefined) return KEY_ORDER_WINDOW
  return KEY_ORDER_WINDOW - (from - Number(r.oldest))
}

/**
 * Of `keys`, those with an event pending on this partition; their heads stay locked until the
 * caller commits. Only a head is ever deleted (only heads go out), so holding it keeps the key busy;
 * a head deleted while this waited for its lock hands the key to its next row, which is looked up again.
 */
export async function busyKeys(
  tx: TransactionSql,
  subscriptionId: number,
  topicId: number,
  partition: number,
  keys: string[],
): Promise<Set<string>> {
  const busy = new Set<string>()
  let open = keys
  while (open.length > 0) {
    // one index probe per key for its head, then the heads locked by primary key, in offset order
    const heads = await tx`
      SELECT u.k, x.o FROM unnest(${open}::text[]) AS u(k)
      CROSS JOIN LATERAL (
        SELECT q."offset" AS o FROM ql_pending q
        WHERE q.subscription_id = ${subscriptionId} AND q.topic_id = ${topicId} AND q.partition = ${partition}
          AND q.key = u.k
        ORDER BY q."offset" LIMIT 1
      ) x`
    if (heads.length === 0) break
    const locked = await tx`
      SELECT key FROM ql_pending
      WHERE subscription_id = ${subscriptionId} AND topic_id = ${topicId} AND partition = ${partition}
        AND "offset" = ANY(${heads.map((h) => Number(h.o))}::bigint[])
      ORDER BY "offset" FOR KEY SHARE`
    for (const r of locked) busy.add(r.key as string)
    open = heads.map((h) => h.k as string).filter((k) => !busy.has(k))
  }
  return busy
}

/** After the heads of these keys were deleted: the next pending event of each may go out now. */
export async function releaseNext(
  tx: TransactionSql,
  subscriptionId: number,
  settled: KeyRef[],
): Promise<void> {
  const keyed = settled.filter((k) => k.key !== null)
  if (keyed.length === 0) return
  // one index probe per key, and the update by primary key alone: a table grown since its last
  // ANALYZE must not lead the planner to walk every waiting row
  await tx`
    WITH n AS MATERIALIZED (
      SELECT u.t, u.pa, x.o
      FROM unnest(${keyed.map((k) => k.topicId)}::int[], ${keyed.map((k) => k.partition)}::int[],
                  ${keyed.map((k) => k.key as string)}::text[]) AS u(t, pa, k)
      CROSS JOIN LATERAL (
        SELECT q."offset" AS o, q.deliver_after AS w FROM ql_pending q
        WHERE q.subscription_id = ${subscriptionId} AND q.topic_id = u.t AND q.partition = u.pa AND q.key = u.k
        ORDER BY q."offset" LIMIT 1
      ) x
      WHERE x.w = 'infinity'
    )
    UPDATE ql_pending p SET deliver_after = now() FROM n
    WHERE p.subscription_id = ${subscriptionId} AND p.topic_id = n.t AND p.partition = n.pa AND p."offset" = n.o`
}

/**
 * Stores new events not handed out yet as pending rows: `ready` ones (their key's first) are due at
 * once, the others wait behind their key until `releaseNext`.
 */
export async function park(
  tx: TransactionSql,
  subscriptionId: number,
  topicId: number,
  partition: number,
  events: Array<{ offset: number; key: string | null; ready: boolean }>,
): Promise<void> {
  if (events.length === 0) return
  await tx`
    INSERT INTO ql_pending (subscription_id, topic_id, partition, "offset", deliveries, key, deliver_after)
    SELECT ${subscriptionId}, ${topicId}, ${partition}, u.o, 0, u.k,
           CASE WHEN u.r = 1 THEN now() ELSE 'infinity'::timestamptz END
    FROM unnest(${events.map((e) => e.offset)}::bigint[], ${events.map((e) => e.key)}::text[],
                ${events.map((e) => (e.ready ? 1 : 0))}::int[]) AS u(o, k, r)
    ON CONFLICT (subscription_id, topic_id, partition, "offset") DO NOTHING`
}
