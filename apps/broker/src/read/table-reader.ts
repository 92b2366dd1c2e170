import { isCompacted, isJsonContentType, ValidationError } from '@questlog/protocol'
import { z } from 'zod'
import type { Sql } from '../storage/db'
import { COLUMNS, highWatermarks, rowToStored, type StoredEvent } from '../storage/event-store'
import type { Topic } from '../topics/topic-service'
import { encodeCursor } from './cursor'

/** `data: null`: a compacted topic's way to remove a key. */
export function isTombstone(e: StoredEvent): boolean {
  if (!isJsonContentType(e.contentType)) return false
  const text = e.dataJson ?? e.data.toString('utf8')
  return text === '' || text === 'null'
}

/** Key reads and snapshots are for compacted topics, whose log has an index by key. */
function requireCompacted(topic: Topic): void {
  if (!isCompacted(topic.cleanup)) {
    throw new ValidationError([
      { path: 'topic', message: `topic '${topic.name}' is not compacted (cleanup '${topic.cleanup}')` },
    ])
  }
}

/** The latest event of `key` (a tombstone included), over every partition; undefined when it has none. */
export async function latestOfKey(sql: Sql, topic: Topic, key: string): Promise<StoredEvent | undefined> {
  requireCompacted(topic)
  const rows = await sql`
    SELECT e.* FROM generate_series(0, ${topic.partitions - 1}::int) AS p(n)
    CROSS JOIN LATERAL (
      SELECT ${sql.unsafe(COLUMNS)} FROM ql_events e
      WHERE e.topic_id = ${topic.id} AND e.partition = p.n AND e.key = ${key}
      ORDER BY e."offset" DESC LIMIT 1
    ) e
    ORDER BY e.time_ms DESC LIMIT 1`
  return rows[0] ? rowToStored(rows[0]) : undefined
}

// a page token comes back from the client: every field is checked, as it reaches SQL
const offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const pageSchema = z.object({
  t: z.number().int(),
  u: z.array(z.tuple([offset, offset])).max(10_000),
  a: z.tuple([offset, z.string().max(100_000)]).optional(),
})
type PageToken = z.infer<typeof pageSchema>

function decodePage(text: string, topic: Topic): PageToken {
  const bad = () => new ValidationError([{ path: 'page', message: 'not a snapshot page of this topic' }])
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  } catch {
    throw bad()
  }
  const token = pageSchema.safeParse(parsed)
  if (!token.success || token.data.t !== topic.id) throw bad()
  return token.data
}

const encodePage = (t: PageToken) => Buffer.from(JSON.stringify(t)).toString('base64url')

export interface SnapshotPage {
  /** The latest event of each key on this page, tombstones left out. */
  events: StoredEvent[]
  /** Where the snapshot ends: subscribe from here to follow it with every later change. */
  cursor: string
  /** The token of the next page, null on the last. */
  page: string | null
}

/**
 * One page of a compacted topic's snapshot: the latest event of each key below the high
 * watermarks taken on the first page, in (partition, key) order, descending. Compaction between
 * pages may remove a key's event below the watermarks only in favour of a later one (or a
 * tombstone's expiry), which the subscription from `cursor` delivers: snapshot plus
 * subscription make the topic's state, whatever compaction does meanwhile.
 */
export async function snapshotPage(
  sql: Sql,
  topic: Topic,
  q: { limit: number; page?: string | undefined; maxBytes: number },
): Promise<SnapshotPage> {
  requireCompacted(topic)
  const token: PageToken = q.page
    ? decodePage(q.page, topic)
    : { t: topic.id, u: [...(await highWatermarks(sql, topic.id))] }
  const parts = token.u.map(([p]) => p)
  const ups = token.u.map(([, o]) => o)
  const [ap, ak] = token.a ?? [null, null]
  const after = ap === null ? sql`` : sql`AND (e.partition, e.key) < (${ap}::int, ${ak})`
  const rows = await sql`
    SELECT * FROM (
      SELECT d.*, sum(d.size) OVER (ORDER BY d.partition DESC, d.key DESC) AS run
      FROM (
        SELECT DISTINCT ON (e.partition, e.key) ${sql.unsafe(COLUMNS)}, octet_length(e.data) AS size
        FROM unnest(${parts}::int[], ${ups}::bigint[]) AS c(p, o)
        JOIN ql_events e ON e.topic_id = ${topic.id} AND e.partition = c.p AND e."offset" < c.o
        WHERE e.key IS NOT NULL ${after}
        ORDER BY e.partition DESC, e.key DESC, e."offset" DESC
        LIMIT ${q.limit}
      ) d
    ) d
    WHERE d.run - d.size < ${q.maxBytes}
    ORDER BY d.partition DESC, d.key DESC`
  const events = rows.map(rowToStored)
  const last = events[events.length - 1]
  const full =
    rows.length === q.limit || (rows.length > 0 && Number(rows[rows.length - 1]!.run) >= q.maxBytes)
  return {
    events: events.filter((e) => !isTombstone(e)),
    cursor: encodeCursor({ topicId: topic.id, positions: new Map(token.u) }),
    page: full && last ? encodePage({ ...token, a: [last.partition, last.key!] }) : null,
  }
}
