import type { Sql } from '../storage/db'

/**
 * The console's lists, each read by one query whatever the number of rows: every topic with
 * its counts and size, every subscription with the lag the stats collector stored last. The
 * lists filter, sort and cut pages here, so a page of 50 rows costs the browser one request.
 */

export interface TopicListRow {
  id: number
  name: string
  partitions: number
  retentionMs: number | null
  retentionBytes: number | null
  dedupeWindowMs: number
  createdAt: string
  /** Events ever appended (the sum of the next offsets): what the rate is taken from. */
  appended: number
  /** The dead-letter topic of this subscription, when it is one. */
  deadLetterOf: string | null
}

/**
 * Every topic whose name holds `search` (case-insensitive), from the ordinary tables only: a
 * query over every topic's log would lock each topic's tables, and a thousand of them take
 * more lock slots than PostgreSQL has.
 */
export async function topicRows(sql: Sql, search: string): Promise<TopicListRow[]> {
  const rows = await sql`
    SELECT t.id, t.name, t.partitions, t.retention_ms, t.retention_bytes, t.dedupe_window_ms,
           (extract(epoch FROM t.created_at) * 1000)::float8 AS created_ms,
           (SELECT COALESCE(sum(q.next_offset), 0) FROM ql_partitions q WHERE q.topic_id = t.id) AS appended,
           sub.name AS dead_letter_of
    FROM ql_topics t
    LEFT JOIN ql_subscriptions sub ON t.name = sub.name || '.dlq'
    WHERE strpos(lower(t.name), lower(${search})) > 0`
  return rows.map((r) => ({
    id: Number(r.id),
    name: r.name as string,
    partitions: Number(r.partitions),
    retentionMs: r.retention_ms === null ? null : Number(r.retention_ms),
    retentionBytes: r.retention_bytes === null ? null : Number(r.retention_bytes),
    dedupeWindowMs: Number(r.dedupe_window_ms),
    createdAt: new Date(Number(r.created_ms)).toISOString(),
    appended: Number(r.appended),
    deadLetterOf: (r.dead_letter_of as string | null) ?? null,
  }))
}

/**
 * The stored events (next offsets less the lowest stored ones) and size on disk of a page's
 * topics, in two statements. Each topic's log is named by its id as a literal, so the planner
 * reads and locks only these topics' tables.
 */
export async function topicFigures(
  sql: Sql,
  ids: number[],
): Promise<Map<number, { events: number; sizeBytes: number }>> {
  const out = new Map(ids.map((id) => [id, { events: 0, sizeBytes: 0 }]))
  if (ids.length === 0) return out
  const branches = ids.map((raw) => {
    const id = Math.trunc(Number(raw))
    return `SELECT ${id} AS topic_id, COALESCE(sum(p.next_offset - COALESCE((SELECT e."offset" FROM ql_events e
              WHERE e.topic_id = ${id} AND e.partition = p.partition ORDER BY e."offset" LIMIT 1), p.next_offset)), 0) AS events
            FROM ql_partitions p WHERE p.topic_id = ${id}`
  })
  const [counts, sizes] = await Promise.all([
    sql.unsafe(branches.join('\nUNION ALL\n')),
    sql`SELECT topic_id, COALESCE(sum(pg_total_relation_size(to_regclass(table_name))), 0) AS bytes
        FROM ql_segments WHERE topic_id = ANY(${ids}::int[]) GROUP BY topic_id`,
  ])
  for (const r of counts) out.get(Number(r.topic_id))!.events = Number(r.events)
  for (const r of sizes) out.get(Number(r.topic_id))!.sizeBytes = Number(r.bytes)
  return out
}

export interface SubscriptionListRow {
  name: string
  topic: string
  mode: 'stream' | 'queue'
  paused: boolean
  maxDeliveries: number
  createdAt: string
  /** Stream mode: members heard from within the session timeout. */
  members: number
  /** The collector's last figures; null until it has run once for this subscription. */
  lag: number | null
  lagSeconds: number | null
  pending: number | null
  deadLetters: number | null
  statsAt: string | null
}

/** Every subscription whose name or topic pattern holds `search`, with its last collected figures. */
export async function subscriptionRows(sql: Sql, search: string): Promise<SubscriptionListRow[]> {
  const rows = await sql`
    SELECT s.name, s.topic_pattern, s.mode, s.paused, s.max_deliveries,
           (extract(epoch FROM s.created_at) * 1000)::float8 AS created_ms,
           (SELECT count(*) FROM ql_sub_members m WHERE m.subscription_id = s.id
              AND m.last_seen > now() - make_interval(secs => s.session_timeout_ms / 1000.0)) AS members,
           st.lag, st.lag_seconds, st.pending, st.dead_letters,
           (extract(epoch FROM st.collected_at) * 1000)::float8 AS stats_ms
    FROM ql_subscriptions s
    LEFT JOIN ql_subscription_stats st ON st.subscription_id = s.id
    WHERE strpos(lower(s.name), lower(${search})) > 0 OR strpos(lower(s.topic_pattern), lower(${search})) > 0`
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v))
  return rows.map((r) => ({
    name: r.name as string,
    topic: r.topic_pattern as string,
    mode: r.mode as 'stream' | 'queue',
    paused: Boolean(r.paused),
    maxDeliveries: Number(r.max_deliveries),
    createdAt: new Date(Number(r.created_ms)).toISOString(),
    members: Number(r.members),
    lag: num(r.lag),
    lagSeconds: num(r.lag_seconds),
    pending: num(r.pending),
    deadLetters: num(r.dead_letters),
    statsAt: r.stats_ms === null ? null : new Date(Number(r.stats_ms)).toISOString(),
  }))
}
