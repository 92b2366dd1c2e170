import { AttemptExpiredError, subjectPatternToRegex } from '@questlog/protocol'
import { advance } from '../read/reader'
import type { Sql, TransactionSql } from '../storage/db'
import { highWatermarks, readEventPage, readEvents } from '../storage/event-store'
import type { DeadLetters } from './dead-letters'
import type { Delivery } from './delivery'
import type { PartitionPosition, Subscription, SubscriptionService } from './subscriptions'
import { decodeToken, encodeToken } from './tokens'

export interface MemberAssignment {
  member: string
  partitions: Array<{ topic: string; partition: number }>
}

const key = (topicId: number, partition: number) => `${topicId}:${partition}`

/**
 * Stream mode, a consumer group: the partitions of the matching topics are
 * divided among the live members (those that pulled within the session
 * timeout), each partition owned by exactly one; an ack commits the offset
 * after the event. When a member leaves, its partitions move and the new
 * owner starts from the last committed offset.
 */
export class GroupConsumer {
  /** Per subscription and member: how far this broker has handed out, past the committed offsets. */
  private readonly fetched = new Map<string, { owned: string; next: Map<string, number> }>()

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
    const ownedKey = `${sub.epoch}|${mine.map((p) => key(p.topic.id, p.partition)).join(',')}`
    const stateKey = `${sub.id}:${member}`
    let state = this.fetched.get(stateKey)
    // a new assignment, or positions moved back, starts again from the committed offsets
    if (!state || state.owned !== ownedKey) {
      state = { owned: ownedKey, next: new Map() }
      this.fetched.set(stateKey, state)
    }
    const out: Delivery[] = []
    let bytes = 0
    const highs = new Map<number, Map<number, number>>()
    for (const p of mine) {
      if (out.length >= max || bytes >= maxBytes) break
      const k = key(p.topic.id, p.partition)
      const from = Math.max(p.next, state.next.get(k) ?? 0)
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
      state.next.set(k, advance(new Map([[p.partition, from]]), events, short, high).get(p.partition)!)
      for (const event of events) {
        bytes += event.data.length
        out.push({
          token: encodeToken({
            mode: 'stream',
            subscriptionId: sub.id,
            topicId: p.topic.id,
            partition: p.partition,
            offset: event.offset,
            attempt: member,
          }),
          topic: p.topic.name,
          deliveries: 1,
          event,
        })
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
        throw new AttemptExpiredError(
          `partition ${t.partition} is no longer owned by member '${t.attempt}' of '${sub.name}'; its new owner will deliver from the last committed offset`,
          { topicId: t.topicId, partition: t.partition, offset: t.offset },
        )
      }
    }
    return decoded
  }

  /**
   * Commits past each acked event (an ack of offset n commits n + 1): one update per partition,
   * on `sql` (a caller's transaction, fenced by its lease, or the pool).
   */
  async ack(sub: Subscription, tokens: string[], sql: Sql | TransactionSql = this.sql): Promise<number> {
    const decoded = await this.owned(sub, tokens, (i) => `tokens.${i}`)
    const next = new Map<string, { topicId: number; partition: number; offset: number }>()
    for (const t of decoded) {
      const k = key(t.topicId, t.partition)
      if ((next.get(k)?.offset ?? -1) < t.offset + 1)
        next.set(k, { topicId: t.topicId, partition: t.partition, offset: t.offset + 1 })
    }
    for (const n of next.values()) {
      await sql`
        UPDATE ql_consumer_offsets SET next_offset = GREATEST(next_offset, ${n.offset}), updated_at = now()
        WHERE group_name = ${sub.name} AND topic_id = ${n.topicId} AND partition = ${n.partition}`
    }
    return decoded.length
  }

  /** Hands the event back: this member gets its partition again from that event on. */
  async nak(sub: Subscription, token: string): Promise<{ redeliverInMs: number }> {
    const t = (await this.owned(sub, [token], () => 'token'))[0]!
    const state = this.fetched.get(`${sub.id}:${t.attempt}`)
    const k = key(t.topicId, t.partition)
    if (state) state.next.set(k, Math.min(state.next.get(k) ?? t.offset, t.offset))
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
