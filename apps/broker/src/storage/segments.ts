import type { Sql, TransactionSql } from './db'

/** The per-topic parent table of the log. */
export function topicTable(topicId: number): string {
  return `ql_events_${topicId}`
}

export function segmentTable(topicId: number, startMs: number): string {
  return `ql_events_${topicId}_${startMs}`
}

export function segmentStart(timeMs: number, segmentMs: number): number {
  return Math.floor(timeMs / segmentMs) * segmentMs
}

/**
 * Creates the topic's branch of the log: a LIST partition, itself RANGE-partitioned by time. A
 * compacted topic's branch also gets an index on (partition, key, offset): the latest event of a
 * key is one index probe, for reads of a key and for compaction.
 */
export async function createTopicLog(
  tx: Sql | TransactionSql,
  topicId: number,
  compacted = false,
): Promise<void> {
  await tx.unsafe(
    `CREATE TABLE IF NOT EXISTS ${topicTable(topicId)} PARTITION OF ql_events FOR VALUES IN (${topicId}) PARTITION BY RANGE (time)`,
  )
  if (compacted) {
    await tx.unsafe(
      `CREATE INDEX IF NOT EXISTS ${topicTable(topicId)}_keys ON ${topicTable(topicId)} (partition, key, "offset")`,
    )
  }
}

export async function dropTopicLog(tx: Sql | TransactionSql, topicId: number): Promise<void> {
  await tx.unsafe(`DROP TABLE IF EXISTS ${topicTable(topicId)} CASCADE`)
}

function isAlreadyExists(e: unknown): boolean {
  const code = (e as { code?: string }).code
  return code === '42P07' || code === '23505'
}

/**
 * Tracks which time segments exist per topic so writers create a segment only
 * the first time they need it (upkeep creates the next one ahead of time).
 */
export class SegmentRegistry {
  private readonly known = new Map<number, Set<number>>()
  private readonly creating = new Map<string, Promise<void>>()

  constructor(private readonly sql: Sql) {}

  forget(topicId: number): void {
    this.known.delete(topicId)
  }

  private async load(topicId: number): Promise<Set<number>> {
    let set = this.known.get(topicId)
    if (!set) {
      const rows = await this.sql`SELECT start_ms FROM ql_segments WHERE topic_id = ${topicId}`
      set = new Set(rows.map((r) => Number(r.start_ms)))
      this.known.set(topicId, set)
    }
    return set
  }

  /** Makes sure the segment holding `timeMs` exists. */
  async ensure(topicId: number, segmentMs: number, timeMs: number): Promise<void> {
    const start = segmentStart(timeMs, segmentMs)
    const set = this.known.get(topicId) ?? (await this.load(topicId))
    if (set.has(start)) return
    const key = `${topicId}:${start}`
    let pending = this.creating.get(key)
    if (!pending) {
      pending = this.create(topicId, start, start + segmentMs).finally(() => this.creating.delete(key))
      this.creating.set(key, pending)
    }
    await pending
    set.add(start)
  }

  private async create(topicId: number, startMs: number, endMs: number): Promise<void> {
    const name = segmentTable(topicId, startMs)
    const from = new Date(startMs).toISOString()
    const to = new Date(endMs).toISOString()
    try {
      await this.sql.begin(async (tx) => {
        await tx.unsafe(
          `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF ${topicTable(topicId)} FOR VALUES FROM ('${from}') TO ('${to}')`,
        )
        await tx`INSERT INTO ql_segments (topic_id, start_ms, end_ms, table_name)
                 VALUES (${topicId}, ${startMs}, ${endMs}, ${name}) ON CONFLICT DO NOTHING`
      })
    } catch (e) {
      if (!isAlreadyExists(e)) throw e
    }
  }

  /** Drops one whole segment. A short lock timeout keeps a busy log from stalling behind the drop. */
  async drop(topicId: number, startMs: number): Promise<boolean> {
    try {
      await this.sql.begin(async (tx) => {
        await tx`SET LOCAL lock_timeout = '2s'`
        await tx.unsafe(`DROP TABLE IF EXISTS ${segmentTable(topicId, startMs)}`)
        await tx`DELETE FROM ql_segments WHERE topic_id = ${topicId} AND start_ms = ${startMs}`
      })
      this.known.get(topicId)?.delete(startMs)
      return true
    } catch (e) {
      if ((e as { code?: string }).code === '55P03') return false // lock not available: next round
      throw e
    }
  }
}

export interface SegmentInfo {
  startMs: number
  endMs: number
  bytes: number
}

/** The topic's segments, oldest first, with their size on disk. */
export async function listSegments(sql: Sql, topicId: number): Promise<SegmentInfo[]> {
  const rows = await sql`
    SELECT start_ms, end_ms, COALESCE(pg_total_relation_size(to_regclass(table_name)), 0) AS bytes
    FROM ql_segments WHERE topic_id = ${topicId} ORDER BY start_ms`
  return rows.map((r) => ({ startMs: Number(r.start_ms), endMs: Number(r.end_ms), bytes: Number(r.bytes) }))
}
