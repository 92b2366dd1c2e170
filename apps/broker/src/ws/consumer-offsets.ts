import { randomBytes } from 'node:crypto'
import type { Sql } from '../storage/db'

/** One consumer group on one topic, as one of its members sees it. */
export interface GroupRef {
  group: string
  topicId: number
  member: string
}

/** Where a partition stands for its owner: what a new owner resumes from. */
export interface PartitionState {
  /** Every offset below is done. */
  floor: number
  /** Handed out up to here (exclusive); reading goes on from here. */
  readTo: number
  /** Offsets in [floor, readTo) handed out and not acked, ascending: the only ones to deliver again. */
  unacked: number[]
}

/** A partition this member holds: its state when claimed, and the claim its commits name. */
export interface Claimed extends PartitionState {
  partition: number
  claim: string
}

/** Keeps the member in its group (and forgets members gone for a minute past their timeout). */
export async function heartbeatMember(sql: Sql, g: GroupRef, sessionTimeoutMs: number): Promise<void> {
  await sql`
    INSERT INTO ql_group_members (group_name, topic_id, member, session_timeout_ms, last_seen)
    VALUES (${g.group}, ${g.topicId}, ${g.member}, ${sessionTimeoutMs}, now())
    ON CONFLICT (group_name, topic_id, member) DO UPDATE
      SET last_seen = now(), session_timeout_ms = excluded.session_timeout_ms`
  await sql`
    DELETE FROM ql_group_members
    WHERE group_name = ${g.group} AND topic_id = ${g.topicId}
      AND last_seen < now() - make_interval(secs => session_timeout_ms / 1000.0 + 60)`
}

/** The members heard from within their own session timeouts, sorted: every broker computes the same list. */
/**
 * The group as every member sees it on a heartbeat: its live members, sorted, and the topic's
 * partitions now (a topic may grow: its new partitions are divided on the next heartbeat).
 */
export async function groupView(sql: Sql, g: GroupRef): Promise<{ members: string[]; partitions: number }> {
  const [row] = await sql`
    SELECT
      (SELECT partitions FROM ql_topics WHERE id = ${g.topicId}) AS partitions,
      ARRAY(
        SELECT member FROM ql_group_members
        WHERE group_name = ${g.group} AND topic_id = ${g.topicId}
          AND last_seen > now() - make_interval(secs => session_timeout_ms / 1000.0)
        ORDER BY member COLLATE "C") AS members`
  return { members: row!.members as string[], partitions: Number(row!.partitions ?? 0) }
}

/** The partitions `member` should own: round-robin over the sorted live members. */
export function assignedPartitions(members: string[], partitions: number, member: string): number[] {
  const i = members.indexOf(member)
  if (i < 0) return []
  const out: number[] = []
  for (let p = i; p < partitions; p += members.length) out.push(p)
  return out
}

/**
 * Takes the partitions that are free: never read, released, already this member's, or held by a
 * member no longer live. A partition another live member still holds is left until it lets go.
 * A partition without a row starts at `start`.
 */
export async function claimPartitions(
  sql: Sql,
  g: GroupRef,
  partitions: number[],
  start: Map<number, number>,
): Promise<Claimed[]> {
  if (partitions.length === 0) return []
  const claim = randomBytes(9).toString('base64url')
  const rows = await sql`
    INSERT INTO ql_consumer_offsets AS o (group_name, topic_id, partition, next_offset, owner, claim)
    SELECT ${g.group}, ${g.topicId}, u.p, u.o, ${g.member}, ${claim}
    FROM unnest(${partitions}::int[], ${partitions.map((p) => start.get(p) ?? 0)}::bigint[]) AS u(p, o)
    ON CONFLICT (group_name, topic_id, partition) DO UPDATE
      SET owner = excluded.owner, claim = excluded.claim, updated_at = now()
      WHERE o.owner IS NULL OR o.owner = excluded.owner OR NOT EXISTS (
        SELECT 1 FROM ql_group_members m
        WHERE m.group_name = o.group_name AND m.topic_id = o.topic_id AND m.member = o.owner
          AND m.last_seen > now() - make_interval(secs => m.session_timeout_ms / 1000.0))
    RETURNING partition, next_offset, read_to, unacked`
  return rows.map((r) => {
    const floor = Number(r.next_offset)
    const readTo = r.read_to === null ? floor : Number(r.read_to)
    return {
      partition: Number(r.partition),
      claim,
      floor,
      readTo,
      unacked: (r.unacked as Array<string | number>).map(Number).filter((o) => o >= floor && o < readTo),
    }
  })
}

/** A partition's state to store, under the claim its owner holds it by. */
export interface Commit extends PartitionState {
  claim: string
}

/**
 * Stores where each partition stands, for the partitions this member still holds under their
 * claims; returns those. A partition claimed by another member since is left as its new owner has it.
 */
export async function commitPartitions(
  sql: Sql,
  g: GroupRef,
  states: Map<number, Commit>,
): Promise<Set<number>> {
  if (states.size === 0) return new Set()
  const parts = [...states.keys()]
  const list = parts.map((p) => states.get(p)!)
  const rows = await sql`
    UPDATE ql_consumer_offsets o
    SET next_offset = u.f, read_to = u.r, unacked = u.un::bigint[], updated_at = now()
    FROM unnest(${parts}::int[], ${list.map((s) => s.floor)}::bigint[], ${list.map((s) => s.readTo)}::bigint[],
                ${list.map((s) => `{${s.unacked.join(',')}}`)}::text[], ${list.map((s) => s.claim)}::text[])
         AS u(p, f, r, un, c)
    WHERE o.group_name = ${g.group} AND o.topic_id = ${g.topicId} AND o.partition = u.p
      AND o.owner = ${g.member} AND o.claim = u.c
    RETURNING o.partition`
  return new Set(rows.map((r) => Number(r.partition)))
}

/** Lets go of partitions (after their last commit), so the member they are assigned to takes them at once. */
export async function releasePartitions(sql: Sql, g: GroupRef, claims: Map<number, string>): Promise<void> {
  if (claims.size === 0) return
  const parts = [...claims.keys()]
  await sql`
    UPDATE ql_consumer_offsets o SET owner = NULL, claim = NULL, updated_at = now()
    FROM unnest(${parts}::int[], ${parts.map((p) => claims.get(p)!)}::text[]) AS u(p, c)
    WHERE o.group_name = ${g.group} AND o.topic_id = ${g.topicId} AND o.partition = u.p
      AND o.owner = ${g.member} AND o.claim = u.c`
}

/** Leaves the group: the others rebalance at their next heartbeat rather than after the session timeout. */
export async function leaveGroup(sql: Sql, g: GroupRef): Promise<void> {
  await sql`
    DELETE FROM ql_group_members
    WHERE group_name = ${g.group} AND topic_id = ${g.topicId} AND member = ${g.member}`
}
