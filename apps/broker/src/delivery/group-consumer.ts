import { AttemptExpiredError, subjectPatternToRegex } from '@questlog/protocol'
import { advance } from '../read/reader'
import type { Sql, TransactionSql } from '../storage/db'
import { highWatermarks, readAt, readEventPage } from '../storage/event-store'
import type { DeadLetters } from './dead-letters'
import type { Delivery } from './delivery'
import type { PartitionPosition, Subscription, SubscriptionService } from './subscriptions'
import { decodeToken, encodeToken } from './tokens'

export interface MemberAssignment {
  member: string
  partitions: Array<{ topic: string; partition: number }>
}

const key = (topicId: number, partition: number) => `${topicId}:${partition}`

/** What one member was handed on this broker: the partitions it took over, and what it gets again. */
interface MemberState {
  epoch: number
  /** Per partition, offsets to deliver again before reading on (taken over un-acked, or nak-ed). */
  again: Map<string, number[]>
}

/**
 * Stream mode, a consumer group: the partitions of the matching topics are
 * divided among the live members (those that pulled within the session
 * timeout), each partition owned by exactly one. Each partition's row keeps
 * exactly what was handed out and not acked (read_to and unacked above the
 * committed floor), so a member taking a partition over delivers those again,
 * then reads on: an acked event is never delivered again, in whatever order
 * the acks came.
 */
export class GroupConsumer {
  private readonly members = new Map<string, MemberState>()

  constructor(
    private readonly sql: Sql,
    private readonly subs: SubscriptionService,
    private readonly deadLetters: DeadLetters,
  ) {}

  private async liveMembers(sub: Subscription): Promise<string[]> {
    const rows = await this.sql`
      SELECT member FROM ql_sub_members
      WHERE subscription_id = ${sub.id} AND last_seen > now() - make_interval(secs => ${sub.sessionTimeoutMs / 1000})
      ORDER BY member`
    return rows.map((r) => r.member as string)
  }

  /** Round-robin over the sorted members: deterministic, so every broker computes the same owners. */
  private assign(members: string[], positions: PartitionPosition[]): Map<string, PartitionPosition[]> {
    const sorted = [...positions].sort((a, b) =>
      a.topic.name === b.topic.name ? a.partition - b.partition : a.topic.name < b.topic.name ? -1 : 1,
    )
    const out = new Map<string, PartitionPosition[]>(members.map((m) => [m, []]))
    // nobody live (a late ack of a member that fell silent): nobody owns anything
    if (members.length === 0) return out
    for (const [i, p] of sorted.entries()) out.get(members[i % members.length]!)!.push(p)
    return out
  }

  async assignments(sub: Subscription): Promise<MemberAssignment[]> {
    const members = await this.liveMembers(sub)
    if (members.length === 0) return []
    const owned = this.assign(members, await this.subs.positions(sub))
    return members.map((m) => ({
      member: m,
      partitions: (owned.get(m) ?? []).map((p) => ({ topic: p.topic.name, partition: p.partition })),
    }))
  }

  /** Keeps a member in the group without pulling (a webhook pusher waiting on its endpoint). */
  async heartbeat(sub: Subscription, member: string): Promise<void> {
    await this.sql`
      INSERT INTO ql_sub_members (subscription_id, member, last_seen) VALUES (${sub.id}, ${member}, now())
      ON CONFLICT (subscription_id, member) DO UPDATE SET last_seen = now()`
  }

  /** Up to `max` events of the member's partitions, of at most `maxBytes` payload bytes past the first. */
  async pull(
    sub: Subscription,
    member: string,
    max: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<Delivery[]> {
    await this.heartbeat(sub, member)
    if (sub.paused) return []
    const members = await this.liveMembers(sub)
    const mine = this.assign(members, await this.subs.positions(sub)).get(member) ?? []
    const stateKey = `${sub.id}:${member}`
    let state = this.members.get(stateKey)
    // positions moved back (a reset, a redrive): start over from the rows
    if (!state || state.epoch !== sub.epoch) {
      state = { epoch: sub.epoch, again: new Map() }
      this.members.set(stateKey, state)
    }
    const now = new Set(mine.map((p) => key(p.topic.id, p.partition)))
    for (const k of state.again.keys()) if (!now.has(k)) state.again.delete(k)
    // a partition taken over (from another member, or back after an ack of its own was refused):
    // what was handed out and not acked comes first
    const taken = mine.filter((p) => p.owner !== member)
    if (taken.length > 0) {
      await this.sql`
        UPDATE ql_consumer_offsets o SET owner = ${member}
        FROM unnest(${taken.map((p) => p.topic.id)}::int[], ${taken.map((p) => p.partition)}::int[]) AS u(t, p)
        WHERE o.group_name = ${sub.name} AND o.topic_id = u.t AND o.partition = u.p`
      for (const p of taken) {
        const k = key(p.topic.id, p.partition)
        if (p.unacked.length > 0) state.again.set(k, [...p.unacked])
        else state.again.delete(k)
      }
    }
    const out: Delivery[] = []
    const token = (p: PartitionPosition, offset: number) =>
      encodeToken({
        mode: 'stream',
        subscriptionId: sub.id,
        topicId: p.topic.id,
        partition: p.partition,
        offset,
        attempt: member,
      })
    let bytes = 0
    const highs = new Map<number, Map<number, number>>()
    for (const p of mine) {
      if (out.length >= max || bytes >= maxBytes) break
      const k = key(p.topic.id, p.partition)
      const again = state.again.get(k) ?? []
      if (again.length > 0) {
        const offsets = again.splice(0, max - out.length)
        if (again.length === 0) state.again.delete(k)
        for (const event of await readAt(this.sql, p.topic.id, p.partition, offsets)) {
          bytes += event.data.length
          out.push({ token: token(p, event.offset), topic: p.topic.name, deliveries: 2, event })
        }
        continue
      }
      const from = p.readTo
      if (!highs.has(p.topic.id)) highs.set(p.topic.id, await highWatermarks(this.sql, p.topic.id))
      const high = highs.get(p.topic.id)!
      if (from >= (high.get(p.partition) ?? 0)) continue
      const limit = max - out.length
      const page = await readEventPage(this.sql, p.topic.id, {
        positions: new Map([[p.partition, from]]),
        typeRegex: sub.typeFilter === null ? undefined : subjectPatternToRegex(sub.typeFilter),
        limit,
        maxBytes: Number.isFinite(maxBytes) ? maxBytes - bytes : undefined,
        order: 'offset',
      })
      let { events, short } = page
      // only the pull's first event may go past the budget: later partitions keep what fits
      if (out.length > 0) {
        let fit = 0
        for (let b = bytes; fit < events.length && b + events[fit]!.data.length <= maxBytes; fit++)
          b += events[fit]!.data.length
        if (fit < events.length) {
          events = events.slice(0, fit)
          short = false
        }
      }
      const next = advance(new Map([[p.partition, from]]), events, short, high).get(p.partition)!
      if (next === from) continue
      // handed out only if nobody else (a second pull, a member that still thinks it owns the
      // partition) handed this stretch out meanwhile
      const [handed] = await this.sql`
        UPDATE ql_consumer_offsets
        SET read_to = ${next}, unacked = unacked || ${events.map((e) => e.offset)}::bigint[],
            next_offset = CASE WHEN cardinality(unacked) = 0 AND ${events.length} = 0 THEN ${next} ELSE next_offset END,
            updated_at = now()
        WHERE group_name = ${sub.name} AND topic_id = ${p.topic.id} AND partition = ${p.partition}
          AND coalesce(read_to, next_offset) = ${from}
        RETURNING 1 AS ok`
      if (!handed) continue
      for (const event of events) {
        bytes += event.data.length
        out.push({ token: token(p, event.offset), topic: p.topic.name, deliveries: 1, event })
      }
    }
    return out
  }

  /** Decodes tokens and checks that the member each names still owns its partition (one assignment for all). */
  private async owned(sub: Subscription, tokens: string[], path: (i: number) => string) {
    const decoded = tokens.map((token, i) => decodeToken(token, path(i)))
    const assignment = this.assign(await this.liveMembers(sub), await this.subs.positions(sub))
    for (const t of decoded) {
      const owned = assignment.get(t.attempt) ?? []
      if (
        t.subscriptionId !== sub.id ||
        !owned.some((p) => p.topic.id === t.topicId && p.partition === t.partition)
      ) {
        // whoever reads the partition next delivers the refused event again (its owner may be this member)
        await this.sql`
          UPDATE ql_consumer_offsets SET owner = NULL
          WHERE group_name = ${sub.name} AND topic_id = ${t.topicId} AND partition = ${t.partition}`
        throw new AttemptExpiredError(
          `partition ${t.partition} is no longer owned by member '${t.attempt}' of '${sub.name}'; its new owner will deliver from the last committed offset`,
          { topicId: t.topicId, partition: t.partition, offset: t.offset },
        )
      }
    }
    return decoded
  }

  /**
   * Takes each acked event off its partition's un-acked list; the committed floor moves up to the
   * oldest still un-acked (or to how far the partition was read). One update per partition, on
   * `sql` (a caller's transaction, fenced by its lease, or the pool).
   */
  async ack(sub: Subscription, tokens: string[], sql: Sql | TransactionSql = this.sql): Promise<number> {
    const decoded = await this.owned(sub, tokens, (i) => `tokens.${i}`)
    const byPartition = new Map<string, { topicId: number; partition: number; offsets: number[] }>()
    for (const t of decoded) {
      const k = key(t.topicId, t.partition)
      const entry = byPartition.get(k) ?? { topicId: t.topicId, partition: t.partition, offsets: [] }
      entry.offsets.push(t.offset)
      byPartition.set(k, entry)
    }
    for (const n of byPartition.values()) {
      const acked = n.offsets
      // a row never read through read_to (written before it existed) commits past the highest ack
      await sql`
        UPDATE ql_consumer_offsets o SET
          unacked = ARRAY(SELECT x FROM unnest(o.unacked) x WHERE x <> ALL(${acked}::bigint[]) ORDER BY x),
          next_offset = CASE WHEN o.read_to IS NULL THEN GREATEST(o.next_offset, ${Math.max(...acked) + 1})
            ELSE GREATEST(o.next_offset, coalesce(
              (SELECT min(x) FROM unnest(o.unacked) x WHERE x <> ALL(${acked}::bigint[])), o.read_to)) END,
          updated_at = now()
        WHERE group_name = ${sub.name} AND topic_id = ${n.topicId} AND partition = ${n.partition}`
    }
    return decoded.length
  }

  /** Hands the event back: this member gets it again at its next pull, before reading on. */
  async nak(sub: Subscription, token: string): Promise<{ redeliverInMs: number }> {
    const t = (await this.owned(sub, [token], () => 'token'))[0]!
    const state = this.members.get(`${sub.id}:${t.attempt}`)
    const k = key(t.topicId, t.partition)
    if (state) {
      const again = state.again.get(k) ?? []
      if (!again.includes(t.offset)) again.push(t.offset)
      again.sort((x, y) => x - y)
      state.again.set(k, again)
    }
    return { redeliverInMs: 0 }
  }

  async term(sub: Subscription, token: string, reason: string): Promise<void> {
    const t = (await this.owned(sub, [token], () => 'token'))[0]!
    const ids = await this.sql.begin((tx) =>
      this.deadLetters.record(tx, sub, [
        { topicId: t.topicId, partition: t.partition, offset: t.offset, deliveries: 1, reason },
      ]),
    )
    await this.ack(sub, [token])
    await this.deadLetters.publishCopies(sub, ids)
  }
}
