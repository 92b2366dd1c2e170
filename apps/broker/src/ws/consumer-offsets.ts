import type { Sql } from '../storage/db'

/** The committed position of a consumer group, per partition of a topic. */
export async function loadGroupOffsets(
  sql: Sql,
  group: string,
  topicId: number,
): Promise<Map<number, number>> {
  const rows = await sql`
    SELECT partition, next_offset FROM ql_consumer_offsets
    WHERE group_name = ${group} AND topic_id = ${topicId}`
  return new Map(rows.map((r) => [Number(r.partition), Number(r.next_offset)]))
}

/** Stores a group's positions; a position never moves backwards through this call. */
export async function commitGroupOffsets(
  sql: Sql,
  group: string,
  topicId: number,
  positions: Map<number, number>,
): Promise<void> {
  if (positions.size === 0) return
  const parts = [...positions.keys()]
  await sql`
    INSERT INTO ql_consumer_offsets (group_name, topic_id, partition, next_offset)
    SELECT ${group}, ${topicId}, u.p, u.o
    FROM unnest(${parts}::int[], ${parts.map((p) => positions.get(p)!)}::bigint[]) AS u(p, o)
    ON CONFLICT (group_name, topic_id, partition) DO UPDATE
      SET next_offset = GREATEST(ql_consumer_offsets.next_offset, excluded.next_offset), updated_at = now()`
}
