import { AttemptExpiredError, DeliveryNotFoundError, subjectPatternToRegex } from '@questlog/protocol'
import { advance } from '../read/reader'
import type { Sql, TransactionSql } from '../storage/db'
import { highWatermarks, readAt, readEventPage, type StoredEvent } from '../storage/event-store'
import type { DeadLetters } from './dead-letters'
import type { Delivery } from './delivery'
import { busyKeys, KEY_READ_AHEAD, type KeyRef, park, readNew, releaseNext, windowRoom } from './key-order'
import type { Subscription, SubscriptionService } from './subscriptions'
import { type DeliveryToken, decodeToken, encodeToken, newAttempt } from './tokens'

/** Payload bytes a pull may still hand out; only its first event may go past. */
interface Budget {
  bytes: number
}

/**
 * Runs a transaction again when PostgreSQL broke a deadlock by aborting it (40P01): a pull's key
 * locks and an ack of several tokens may meet in opposite orders (key-order.ts); rolled back, the
 * attempt changed nothing.
 */
async function retryDeadlock<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run()
    } catch (e) {
      if ((e as { code?: string }).code !== '40P01' || attempt >= 3) throw e
    }
  }
}

function keyRef(r: Record<string, unknown>): KeyRef {
  return {
    topicId: Number(r.topic_id),
    partition: Number(r.partition),
    key: (r.key as string | null) ?? null,
  }
}

/** How many of `sizes` (in order) a pull takes: all that fit the budget, and the first in any case if nothing was taken yet. */
function fitting(sizes: number[], budget: Budget, taken: number): number {
  let n = 0
  while (n < sizes.length && (sizes[n]! <= budget.bytes || (taken === 0 && n === 0)))
    budget.bytes -= sizes[n++]!
  return n
}

interface Handout {
  topicId: number
  topic: string
  partition: number
  offset: number
  deliveries: number
  attempt: string
  /** The event's key on a key-ordered subscription (null otherwise, or keyless). */
  key: string | null
  event?: StoredEvent
}

/**
 * Queue mode: any member takes any event; each delivery waits `ackWaitMs` for
 * its ack, then is redelivered; a nak redelivers after the backoff; after
 * `maxDeliveries` the event is dead-lettered. Members pulling at once lock
 * different rows (SKIP LOCKED), so an event is never handed to two at a time.
 * With `ordering: "key"`, a key's events go out one at a time (see key-order.ts).
 */
export class QueueConsumer {
  constructor(
    private readonly sql: Sql,
    private readonly subs: SubscriptionService,
    private readonly deadLetters: DeadLetters,
  ) {}

  /** Up to `max` deliveries, of at most `maxBytes` payload bytes past the first. */
  async pull(
    sub: Subscription,
    member: string,
    max: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<Delivery[]> {
    if (sub.paused) return []
    const positions = await this.subs.positions(sub)
    const topicNames = new Map(positions.map((p) => [p.topic.id, p.topic.name]))
    const handouts: Handout[] = []
    const budget: Budget = { bytes: maxBytes }
    const deadIds = await retryDeadlock(() =>
      this.sql.begin(async (tx) => {
        // a deadlock rolled this attempt back: start over with nothing handed out
        handouts.length = 0
        budget.bytes = maxBytes
        if (sub.ordering === 'key') {
          // new events first: their key locks come before any other row lock of this pull (key-order.ts)
          await this.freshKeyed(tx, sub, member, max, handouts, topicNames, budget)
          if (handouts.length >= max || budget.bytes <= 0) return []
          const dead = await this.redeliveries(
            tx,
            sub,
            member,
            max - handouts.length,
            handouts,
            topicNames,
            budget,
          )
          return this.deadLetters.record(tx, sub, dead)
        }
        const dead = await this.redeliveries(tx, sub, member, max, handouts, topicNames, budget)
        if (handouts.length < max && budget.bytes > 0)
          await this.fresh(tx, sub, member, max - handouts.length, handouts, topicNames, budget)
        return this.deadLetters.record(tx, sub, dead)
      }),
    )
    await this.deadLetters.publishCopies(sub, deadIds)
    // payloads of redeliveries come from the log, grouped per partition
    const missing = handouts.filter((h) => !h.event)
    const groups = new Map<string, Handout[]>()
    for (const h of missing)
      groups.set(`${h.topicId}:${h.partition}`, [...(groups.get(`${h.topicId}:${h.partition}`) ?? []), h])
    for (const list of groups.values()) {
      const events = await readAt(
        this.sql,
        list[0]!.topicId,
        list[0]!.partition,
        list.map((h) => h.offset),
      )
      const byOffset = new Map(events.map((e) => [e.offset, e]))
      for (const h of list) h.event = byOffset.get(h.offset)
    }
    // gone from the log (retention, compaction): nothing to deliver, and its key must not wait on it
    const gone = handouts.filter((h) => !h.event)
    if (sub.ordering === 'key' && gone.length > 0) await this.settleGone(sub, gone)
    return handouts
      .filter((h) => h.event)
      .map((h) => ({
        token: encodeToken({
          mode: 'queue',
          subscriptionId: sub.id,
          topicId: h.topicId,
          partition: h.partition,
          offset: h.offset,
          attempt: h.attempt,
        }),
        topic: h.topic,
        deliveries: h.deliveries,
        event: h.event!,
      }))
  }

  /** Due redeliveries (ack wait ran out, nak delay passed); those out of deliveries are returned as dead. */
  private async redeliveries(
    tx: TransactionSql,
    sub: Subscription,
    member: string,
    max: number,
    out: Handout[],
    topicNames: Map<number, string>,
    budget: Budget,
  ) {
    // with the stored sizes, so a pull takes no more than its budget; the rest stays due
    // the rows first, then the sizes of those taken: many due rows cost no join
    const due = await tx`
      WITH d AS (
        SELECT p.topic_id, p.partition, p."offset", p.deliveries, p.key, p.deliver_after
        FROM ql_pending p
        WHERE p.subscription_id = ${sub.id} AND p.deliver_after <= now()
        ORDER BY p.deliver_after, p.topic_id, p.partition, p."offset" LIMIT ${max}
        FOR UPDATE OF p SKIP LOCKED
      )
      SELECT d.topic_id, d.partition, d."offset", d.deliveries, d.key, coalesce(octet_length(e.data), 0) AS size
      FROM d
      LEFT JOIN ql_events e ON e.topic_id = d.topic_id AND e.partition = d.partition AND e."offset" = d."offset"
      ORDER BY d.deliver_after, d.topic_id, d.partition, d."offset"`
    const dead: Array<{
      topicId: number
      partition: number
      offset: number
      deliveries: number
      reason: string
      key: string | null
    }> = []
    const start = out.length
    for (const r of due) {
      const key = { topicId: Number(r.topic_id), partition: Number(r.partition), offset: Number(r.offset) }
      const deliveries = Number(r.deliveries)
      const eventKey = (r.key as string | null) ?? null
      if (deliveries >= sub.maxDeliveries) {
        dead.push({
          ...key,
          deliveries,
          reason: `not acked after ${deliveries} deliveries (maxDeliveries)`,
          key: eventKey,
        })
        continue
      }
      if (fitting([Number(r.size)], budget, out.length) === 0) continue
      out.push({
        ...key,
        topic: topicNames.get(key.topicId) ?? '',
        deliveries: deliveries + 1,
        attempt: newAttempt(),
        key: eventKey,
      })
    }
    if (dead.length > 0) {
      // every attempt of these expired: a late ack of any of them reads attempt_expired
      await this.recordSettled(
        tx,
        sub,
        dead.map((d) => ({ ...d, attempt: null })),
      )
      await tx`
        DELETE FROM ql_pending p USING unnest(${dead.map((d) => d.topicId)}::int[], ${dead.map((d) => d.partition)}::int[],
                                              ${dead.map((d) => d.offset)}::bigint[]) AS u(t, pa, o)
        WHERE p.subscription_id = ${sub.id} AND p.topic_id = u.t AND p.partition = u.pa AND p."offset" = u.o`
      await releaseNext(tx, sub.id, dead)
    }
    if (out.length > start) await this.hold(tx, sub, member, out.slice(start))
    return dead
  }

  /** Events never handed out yet, from the positions this member could lock. */
  private async fresh(
    tx: TransactionSql,
    sub: Subscription,
    member: string,
    want: number,
    out: Handout[],
    topicNames: Map<number, string>,
    budget: Budget,
  ) {
    const start = out.length
    const full = () => out.length - start >= want || budget.bytes <= 0
    if (full()) return
    for await (const { topicId, partition, from, highs: high } of this.unreadPositions(tx, sub)) {
      const limit = want - (out.length - start)
      const page = await readEventPage(this.sql, topicId, {
        positions: new Map([[partition, from]]),
        typeRegex: sub.typeFilter === null ? undefined : subjectPatternToRegex(sub.typeFilter),
        limit,
        maxBytes: Number.isFinite(budget.bytes) ? budget.bytes : undefined,
        order: 'offset',
      })
      const fit = fitting(
        page.events.map((e) => e.data.length),
        budget,
        out.length,
      )
      const events = page.events.slice(0, fit)
      const short = page.short && fit === page.events.length
      const next = advance(new Map([[partition, from]]), events, short, high).get(partition)!
      const handed: Handout[] = events.map((event) => ({
        topicId,
        topic: topicNames.get(topicId) ?? '',
        partition,
        offset: event.offset,
        deliveries: 1,
        attempt: newAttempt(),
        key: null,
        event,
      }))
      if (handed.length > 0) await this.hold(tx, sub, member, handed)
      await movePosition(tx, sub.id, topicId, partition, next)
      out.push(...handed)
      if (full()) break
    }
  }

  /**
   * Key ordering: reads up to KEY_READ_AHEAD new events of each partition it can lock (within the
   * window behind the oldest pending one), hands out first events of free keys up to `want`, and
   * stores the rest as pending rows, due at once or waiting behind their key (key-order.ts).
   * Payloads are read after the transaction, as for redeliveries.
   */
  private async freshKeyed(
    tx: TransactionSql,
    sub: Subscription,
    member: string,
    want: number,
    out: Handout[],
    topicNames: Map<number, string>,
    budget: Budget,
  ) {
    const typeRegex = sub.typeFilter === null ? undefined : subjectPatternToRegex(sub.typeFilter)
    const start = out.length
    for await (const { topicId, partition, from, high } of this.unreadPositions(tx, sub)) {
      const room = Math.min(KEY_READ_AHEAD, await windowRoom(tx, sub.id, topicId, partition, from))
      if (room <= 0) continue
      const events = await readNew(tx, topicId, partition, from, high, room, typeRegex)
      const keys = [...new Set(events.flatMap((e) => (e.key === null ? [] : [e.key])))]
      const busy = await busyKeys(tx, sub.id, topicId, partition, keys)
      const handed: Handout[] = []
      const parked: Array<{ offset: number; key: string | null; ready: boolean }> = []
      for (const e of events) {
        const free = e.key === null || !busy.has(e.key)
        if (e.key !== null) busy.add(e.key)
        const taken = out.length - start + handed.length
        if (
          free &&
          taken < want &&
          budget.bytes > 0 &&
          fitting([e.size], budget, out.length + handed.length) === 1
        )
          handed.push({
            topicId,
            topic: topicNames.get(topicId) ?? '',
            partition,
            offset: e.offset,
            deliveries: 1,
            attempt: newAttempt(),
            key: e.key,
          })
        else parked.push({ offset: e.offset, key: e.key, ready: free })
      }
      if (handed.length > 0) await this.hold(tx, sub, member, handed)
      await park(tx, sub.id, topicId, partition, parked)
      const next = events.length < room ? high : events[events.length - 1]!.offset + 1
      await movePosition(tx, sub.id, topicId, partition, next)
      out.push(...handed)
    }
  }

  /**
   * The subscription's positions this pull could lock (another member's pull holds the rest) that
   * have events past them, with their partition's high watermark and the topic's (read once a topic).
   */
  private async *unreadPositions(tx: TransactionSql, sub: Subscription) {
    const rows = await tx`
      SELECT topic_id, partition, next_offset FROM ql_sub_positions
      WHERE subscription_id = ${sub.id} ORDER BY topic_id, partition FOR UPDATE SKIP LOCKED`
    const byTopic = new Map<number, Map<number, number>>()
    for (const r of rows) {
      const topicId = Number(r.topic_id)
      const partition = Number(r.partition)
      const from = Number(r.next_offset)
      if (!byTopic.has(topicId)) byTopic.set(topicId, await highWatermarks(this.sql, topicId))
      const highs = byTopic.get(topicId)!
      const high = highs.get(partition) ?? 0
      if (from < high) yield { topicId, partition, from, high, highs }
    }
  }

  /** Settles handouts whose events left the log, releasing the next event of their keys. */
  private async settleGone(sub: Subscription, gone: Handout[]): Promise<void> {
    await this.sql.begin(async (tx) => {
      const rows = await tx`
        DELETE FROM ql_pending p USING unnest(${gone.map((h) => h.topicId)}::int[], ${gone.map((h) => h.partition)}::int[],
                                              ${gone.map((h) => h.offset)}::bigint[], ${gone.map((h) => h.attempt)}::text[]) AS u(t, pa, o, a)
        WHERE p.subscription_id = ${sub.id} AND p.topic_id = u.t AND p.partition = u.pa AND p."offset" = u.o AND p.attempt = u.a
        RETURNING p.topic_id, p.partition, p.key`
      await releaseNext(tx, sub.id, rows.map(keyRef))
    })
  }

  /** Marks handouts as delivered to `member`, waiting `ackWaitMs` for their ack. */
  private async hold(tx: TransactionSql, sub: Subscription, member: string, list: Handout[]) {
    await tx`
      INSERT INTO ql_pending (subscription_id, topic_id, partition, "offset", deliveries, attempt, member, key, deliver_after)
      SELECT ${sub.id}, u.t, u.p, u.o, u.d, u.a, ${member}, u.k, now() + make_interval(secs => ${sub.ackWaitMs / 1000})
      FROM unnest(${list.map((h) => h.topicId)}::int[], ${list.map((h) => h.partition)}::int[],
                  ${list.map((h) => h.offset)}::bigint[], ${list.map((h) => h.deliveries)}::int[],
                  ${list.map((h) => h.attempt)}::text[], ${list.map((h) => h.key)}::text[]) AS u(t, p, o, d, a, k)
      ON CONFLICT (subscription_id, topic_id, partition, "offset")
      DO UPDATE SET deliveries = excluded.deliveries, attempt = excluded.attempt, member = excluded.member,
                    deliver_after = excluded.deliver_after`
  }

  /**
   * Locks the pending rows the tokens name and checks each is the live attempt.
   * Any stale or unknown token fails the whole call, so nothing changes.
   */
  private async lockLive(tx: TransactionSql, sub: Subscription, tokens: DeliveryToken[]) {
    const rows = await tx`
      SELECT p.topic_id, p.partition, p."offset", p.attempt, p.deliveries, p.deliver_after > now() AS live
      FROM ql_pending p
      JOIN unnest(${tokens.map((t) => t.topicId)}::int[], ${tokens.map((t) => t.partition)}::int[],
                  ${tokens.map((t) => t.offset)}::bigint[]) AS u(t, pa, o)
        ON p.topic_id = u.t AND p.partition = u.pa AND p."offset" = u.o
      WHERE p.subscription_id = ${sub.id}
      ORDER BY p.topic_id, p.partition, p."offset"
      FOR UPDATE OF p`
    const byKey = new Map(rows.map((r) => [`${r.topic_id}:${r.partition}:${r.offset}`, r]))
    const missing = tokens.filter(
      (t) => t.subscriptionId !== sub.id || !byKey.has(`${t.topicId}:${t.partition}:${t.offset}`),
    )
    const settled = await this.settledAttempts(tx, sub, missing)
    return tokens.map((t) => {
      const where = { topicId: t.topicId, partition: t.partition, offset: t.offset }
      const k = `${t.topicId}:${t.partition}:${t.offset}`
      const row = t.subscriptionId === sub.id ? byKey.get(k) : undefined
      // settled by a later attempt (or dead after its last one): this one expired, as while it was held
      if (!row && settled.has(k) && settled.get(k) !== t.attempt) {
        throw new AttemptExpiredError(
          `this delivery attempt of partition ${t.partition} offset ${t.offset} expired; the event was redelivered and is settled`,
          where,
        )
      }
      if (!row) {
        throw new DeliveryNotFoundError(
          `no pending delivery of partition ${t.partition} offset ${t.offset} for subscription '${sub.name}' (already acked, or never delivered to you)`,
          where,
        )
      }
      if (row.attempt !== t.attempt || !row.live) {
        throw new AttemptExpiredError(
          `this delivery attempt of partition ${t.partition} offset ${t.offset} expired; the event was or will be redelivered`,
          where,
        )
      }
      return { token: t, deliveries: Number(row.deliveries) }
    })
  }

  async ack(sub: Subscription, tokens: string[]): Promise<number> {
    const decoded = tokens.map((t, i) => decodeToken(t, `tokens.${i}`))
    return retryDeadlock(() =>
      this.sql.begin(async (tx) => {
        const live = await this.lockLive(tx, sub, decoded)
        const acked = await tx`
        DELETE FROM ql_pending p USING unnest(${decoded.map((t) => t.topicId)}::int[], ${decoded.map((t) => t.partition)}::int[],
                                              ${decoded.map((t) => t.offset)}::bigint[]) AS u(t, pa, o)
        WHERE p.subscription_id = ${sub.id} AND p.topic_id = u.t AND p.partition = u.pa AND p."offset" = u.o
        RETURNING p.topic_id, p.partition, p.key`
        await releaseNext(tx, sub.id, acked.map(keyRef))
        await this.recordSettled(
          tx,
          sub,
          live
            .filter((l) => l.deliveries > 1)
            .map((l) => ({ ...l.token, attempt: l.token.attempt as string | null })),
        )
        return decoded.length
      }),
    )
  }

  /** The attempts that settled these events, for those that were redelivered and are settled (null: none did). */
  private async settledAttempts(
    tx: TransactionSql,
    sub: Subscription,
    tokens: DeliveryToken[],
  ): Promise<Map<string, string | null>> {
    const mine = tokens.filter((t) => t.subscriptionId === sub.id)
    if (mine.length === 0) return new Map()
    const rows = await tx`
      SELECT s.topic_id, s.partition, s."offset", s.attempt FROM ql_settled s
      JOIN unnest(${mine.map((t) => t.topicId)}::int[], ${mine.map((t) => t.partition)}::int[],
                  ${mine.map((t) => t.offset)}::bigint[]) AS u(t, pa, o)
        ON s.topic_id = u.t AND s.partition = u.pa AND s."offset" = u.o
      WHERE s.subscription_id = ${sub.id} AND s.settled_at > now() - interval '1 day'`
    return new Map(rows.map((r) => [`${r.topic_id}:${r.partition}:${r.offset}`, r.attempt as string | null]))
  }

  /** Remembers redelivered events as settled, by which attempt; forgets those settled over a day ago. */
  private async recordSettled(
    tx: TransactionSql,
    sub: Subscription,
    list: Array<{ topicId: number; partition: number; offset: number; attempt: string | null }>,
  ): Promise<void> {
    if (list.length === 0) return
    await tx`
      INSERT INTO ql_settled (subscription_id, topic_id, partition, "offset", attempt)
      SELECT ${sub.id}, u.t, u.pa, u.o, u.a
      FROM unnest(${list.map((l) => l.topicId)}::int[], ${list.map((l) => l.partition)}::int[],
                  ${list.map((l) => l.offset)}::bigint[], ${list.map((l) => l.attempt)}::text[]) AS u(t, pa, o, a)
      ON CONFLICT (subscription_id, topic_id, partition, "offset")
      DO UPDATE SET attempt = excluded.attempt, settled_at = now()`
    await tx`DELETE FROM ql_settled WHERE subscription_id = ${sub.id} AND settled_at < now() - interval '1 day'`
  }

  /** Hands the event back: redelivered after `delayMs`, or after the subscription's backoff for this attempt. */
  async nak(
    sub: Subscription,
    token: string,
    delayMs: number | undefined,
  ): Promise<{ redeliverInMs: number }> {
    const t = decodeToken(token, 'token')
    return this.sql.begin(async (tx) => {
      const [live] = await this.lockLive(tx, sub, [t])
      const backoff = sub.backoffMs[Math.min(live!.deliveries - 1, sub.backoffMs.length - 1)] ?? 0
      const wait = delayMs ?? backoff
      await tx`UPDATE ql_pending SET attempt = NULL, member = NULL,
                 deliver_after = now() + make_interval(secs => ${wait / 1000})
               WHERE subscription_id = ${sub.id} AND topic_id = ${t.topicId} AND partition = ${t.partition} AND "offset" = ${t.offset}`
      return { redeliverInMs: wait }
    })
  }

  /** Dead-letters the event at once. */
  async term(sub: Subscription, token: string, reason: string): Promise<void> {
    const t = decodeToken(token, 'token')
    const ids = await this.sql.begin(async (tx) => {
      const [live] = await this.lockLive(tx, sub, [t])
      const termed =
        await tx`DELETE FROM ql_pending WHERE subscription_id = ${sub.id} AND topic_id = ${t.topicId}
                 AND partition = ${t.partition} AND "offset" = ${t.offset} RETURNING topic_id, partition, key`
      await releaseNext(tx, sub.id, termed.map(keyRef))
      if (live!.deliveries > 1) await this.recordSettled(tx, sub, [t])
      return this.deadLetters.record(tx, sub, [
        {
          topicId: t.topicId,
          partition: t.partition,
          offset: t.offset,
          deliveries: live!.deliveries,
          reason,
        },
      ])
    })
    await this.deadLetters.publishCopies(sub, ids)
  }

  async counts(sub: Subscription): Promise<{ pending: number; redelivered: number }> {
    const [r] = await this.sql`
      SELECT count(*)::int AS pending, count(*) FILTER (WHERE deliveries > 1)::int AS redelivered
      FROM ql_pending WHERE subscription_id = ${sub.id}`
    return { pending: Number(r!.pending), redelivered: Number(r!.redelivered) }
  }
}

/** Where the subscription reads on in a partition, inside the pull's transaction. */
async function movePosition(
  tx: TransactionSql,
  subscriptionId: number,
  topicId: number,
  partition: number,
  next: number,
): Promise<void> {
  await tx`UPDATE ql_sub_positions SET next_offset = ${next}
           WHERE subscription_id = ${subscriptionId} AND topic_id = ${topicId} AND partition = ${partition}`
}
