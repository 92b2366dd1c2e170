import { isCompacted } from '@questlog/protocol'
import type { Logger } from 'pino'
import type { Lease } from '../cluster/leases'
import type { Sql } from '../storage/db'
import { segmentTable, topicTable } from '../storage/segments'
import type { Topic, TopicService } from '../topics/topic-service'

export interface CompactionOptions {
  /** A segment is rewritten once at least this share of its events can go (0: any). */
  minDirtyRatio: number
  /** How long the swap waits for the topic's lock before it gives up until the next round. */
  lockTimeoutMs: number
  /** How long a rewrite waits for reads that started before it to end. */
  drainMs: number
  /** This broker's id, recorded with each segment it rewrites. */
  brokerId: string
}

export interface CompactedSegment {
  topic: string
  startMs: number
  before: number
  after: number
}

export interface CompactionResult {
  compacted: CompactedSegment[]
  /** Segments found dirty whose swap was put off (a lock not free in time, a late write). */
  deferred: number
}

/** The time a segment is sealed after its end: a batch timed just before it may still be on its way. */
const SEAL_GRACE_MS = 5000

/**
 * An event of the topic's branch `e` that compaction removes: a later event of its key exists
 * (`l.top`, the key's highest offset), or it is a tombstone (`data: null`) whose delete retention
 * has passed. Events without a key (stored before the topic refused them) stay.
 */
const REMOVABLE = `(e.key IS NOT NULL AND (e."offset" < l.top OR (e.time < $1::timestamptz
  AND e.enc_key IS NULL AND e.content_type ~* 'json' AND e.data IN ('\\x6e756c6c'::bytea, ''::bytea))))`

/**
 * Compaction of `compact` topics, run by the broker holding the `compaction` lease. A sealed
 * segment (a time range no batch is written into any more) with enough superseded events is
 * rewritten: its surviving rows are copied into a new table beside it, and in a short
 * transaction the old table is detached, the new one renamed and attached in its place. The
 * log never sees a DELETE; appends go to the head segment and wait only for the swap itself
 * (catalog changes, milliseconds, given up after `lockTimeoutMs`). Offsets are kept as they
 * are, so a compacted segment has gaps; readers ask for `offset >= n` and never expect n itself.
 */
export class Compactor {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<CompactionResult> | undefined

  constructor(
    private readonly sql: Sql,
    private readonly topics: TopicService,
    private readonly o: CompactionOptions,
    private readonly log: Logger,
    /** The lease that makes this broker the cluster's compactor, if it holds it now. */
    private readonly lease: () => Lease | undefined,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      if (!this.lease()) return
      this.runOnce().catch((err) => this.log.warn({ err }, 'compaction round failed'))
    }, intervalMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.running?.catch(() => {})
  }

  /** One round over every compacted topic; concurrent calls share the round in progress. */
  runOnce(now = Date.now()): Promise<CompactionResult> {
    this.running ??= this.round(now).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async round(now: number): Promise<CompactionResult> {
    const result: CompactionResult = { compacted: [], deferred: 0 }
    for (const topic of await this.topics.list()) {
      if (isCompacted(topic.cleanup)) await this.topic(topic, now, result)
    }
    return result
  }

  private async topic(topic: Topic, now: number, result: CompactionResult): Promise<void> {
    const branch = topicTable(topic.id)
    const sealedBefore = new Date(now - SEAL_GRACE_MS).toISOString()
    const cutoff = new Date(now - topic.deleteRetentionMs).toISOString()
    const segs = await this.sql`
      SELECT start_ms, end_ms FROM ql_segments
      WHERE topic_id = ${topic.id} AND end_ms <= ${now - SEAL_GRACE_MS} ORDER BY start_ms`
    if (segs.length === 0) return
    // how much of each sealed segment can go, in one pass over the topic
    const counts = await this.sql.unsafe(
      `WITH l AS (SELECT partition, key, max("offset") AS top FROM ${branch} WHERE key IS NOT NULL GROUP BY 1, 2)
       SELECT floor(extract(epoch FROM e.time) * 1000 / $3::bigint)::bigint * $3::bigint AS start_ms, count(*) AS total,
              count(*) FILTER (WHERE ${REMOVABLE}) AS removable
       FROM ${branch} e LEFT JOIN l ON l.partition = e.partition AND l.key = e.key
       WHERE e.time < $2::timestamptz GROUP BY 1`,
      [cutoff, sealedBefore, topic.segmentMs],
    )
    const dirty = new Map<number, { total: number; removable: number }>()
    for (const c of counts) {
      const total = Number(c.total)
      const removable = Number(c.removable)
      if (removable > 0 && removable >= total * this.o.minDirtyRatio)
        dirty.set(Number(c.start_ms), { total, removable })
    }
    for (const s of segs) {
      const startMs = Number(s.start_ms)
      if (!dirty.has(startMs)) continue
      const lease = this.lease()
      if (!lease) return
      const done = await this.segment(topic, startMs, Number(s.end_ms), cutoff, lease)
      if (done) result.compacted.push({ topic: topic.name, startMs, ...done })
      else result.deferred++
    }
  }

  /** Rewrites one sealed segment; undefined when the swap is put off to the next round. */
  private async segment(
    topic: Topic,
    startMs: number,
    endMs: number,
    cutoff: string,
    lease: Lease,
  ): Promise<{ before: number; after: number } | undefined> {
    const branch = topicTable(topic.id)
    const old = segmentTable(topic.id, startMs)
    const next = `${old}_c`
    const from = new Date(startMs).toISOString()
    const to = new Date(endMs).toISOString()
    await this.sql.unsafe(`DROP TABLE IF EXISTS ${next}`)
    // one snapshot for what the segment holds and what supersedes it: the swap checks that
    // nothing came into the segment since (a batch timed before the seal arriving late)
    const built = await this.sql.begin('isolation level repeatable read', async (tx) => {
      // the CHECK lets ATTACH see the rows fit the range without scanning them under its lock
      await tx.unsafe(
        `CREATE TABLE ${next} (LIKE ${branch} INCLUDING DEFAULTS INCLUDING INDEXES,
           CHECK (topic_id = ${topic.id} AND time >= '${from}'::timestamptz AND time < '${to}'::timestamptz))`,
      )
      const [before] = await tx.unsafe(`SELECT count(*) AS n FROM ${old}`)
      const kept = await tx.unsafe(
        `WITH l AS (SELECT partition, key, max("offset") AS top FROM ${branch} WHERE key IS NOT NULL GROUP BY 1, 2)
         INSERT INTO ${next} SELECT e.* FROM ${old} e LEFT JOIN l ON l.partition = e.partition AND l.key = e.key
         WHERE NOT ${REMOVABLE}`,
        [cutoff],
      )
      return { before: Number(before!.n), after: kept.count }
    })
    const [clock] = await this.sql`SELECT clock_timestamp()::text AS committed`
    const committed = clock!.committed as string
    try {
      if (!(await this.drained(committed))) return undefined
      const swapped = await this.sql.begin(async (tx) => {
        await tx.unsafe(`SET LOCAL lock_timeout = '${Math.max(1, Math.round(this.o.lockTimeoutMs))}ms'`)
        await lease.fence(tx)
        await tx.unsafe(`ALTER TABLE ${branch} DETACH PARTITION ${old}`)
        const [now] = await tx.unsafe(`SELECT count(*) AS n FROM ${old}`)
        if (Number(now!.n) !== built.before) return false
        await tx.unsafe(`DROP TABLE ${old}`)
        await tx.unsafe(`ALTER TABLE ${next} RENAME TO ${old}`)
        await tx.unsafe(
          `ALTER TABLE ${branch} ATTACH PARTITION ${old} FOR VALUES FROM ('${from}') TO ('${to}')`,
        )
        await tx`UPDATE ql_segments SET compacted_at = now(), compacted_rows = ${built.after}, compacted_by = ${this.o.brokerId}
                 WHERE topic_id = ${topic.id} AND start_ms = ${startMs}`
        return true
      })
      if (!swapped) {
        this.log.info(
          { topic: topic.name, segment: from },
          'segment written to during compaction: next round',
        )
        return undefined
      }
      this.log.info({ topic: topic.name, segment: from, ...built }, 'segment compacted')
      return built
    } catch (e) {
      // the lock was not free in time (55P03), the lease moved, or retention dropped the segment
      this.log.info({ err: e, topic: topic.name, segment: from }, 'compaction swap put off')
      return undefined
    } finally {
      await this.sql.unsafe(`DROP TABLE IF EXISTS ${next}`).catch(() => {})
    }
  }

  /**
   * Waits until no session of this database still runs a transaction begun before the new
   * table's rows committed. Such a read, let in after the swap, would find the new table with
   * its rows invisible to it, and miss the segment; reads are short, so this is quick.
   */
  private async drained(committed: string): Promise<boolean> {
    const deadline = performance.now() + this.o.drainMs
    for (;;) {
      const [row] = await this.sql`
        SELECT count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND backend_xmin IS NOT NULL AND xact_start < ${committed}::timestamptz`
      if (Number(row!.n) === 0) return true
      if (performance.now() > deadline) return false
      await new Promise((r) => setTimeout(r, 20))
    }
  }
}
