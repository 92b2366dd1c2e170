import { randomUUID } from 'node:crypto'
import postgres from 'postgres'
import { eventJson } from '../payload'
import type { OpenedTarget, SendBatch, ThroughputCase, ThroughputTarget } from './types'

const TABLE = 'bench_raw_events'

/** The broker's log shape (apps/broker/migrations/0001_log.sql): LIST by topic, RANGE by time, same key and index. */
export async function createRawTable(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await sql.unsafe(`DROP TABLE IF EXISTS ${TABLE} CASCADE`)
    await sql.unsafe(`
      CREATE TABLE ${TABLE} (
        topic_id integer NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL,
        time timestamptz NOT NULL, id text NOT NULL, type text NOT NULL, source text NOT NULL,
        key text, dedupe_key text, content_type text NOT NULL, headers jsonb, data bytea NOT NULL,
        PRIMARY KEY (topic_id, partition, "offset", time)
      ) PARTITION BY LIST (topic_id)`)
    await sql.unsafe(`CREATE INDEX ON ${TABLE} USING brin (time)`)
  } finally {
    await sql.end()
  }
}

export async function dropRawTable(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  await sql.unsafe(`DROP TABLE IF EXISTS ${TABLE} CASCADE`).catch(() => {})
  await sql.end()
}

let topicSeq = 0

interface Batch {
  ids: string[]
  hex: string[]
  data: Buffer[]
}

function makeBatch(c: ThroughputCase, seq: number): Batch {
  const data = Array.from({ length: c.batch }, (_, i) => Buffer.from(eventJson(c.eventBytes, seq + i)))
  return { ids: [], hex: data.map((d) => `\\x${d.toString('hex')}`), data }
}

/** One topic branch and one time segment per cell, as the broker creates for a new topic. */
async function openCell(sql: postgres.Sql, c: ThroughputCase) {
  const topicId = 1_000_000 + ++topicSeq
  const part = `${TABLE}_${topicId}`
  await sql.unsafe(
    `CREATE TABLE ${part} PARTITION OF ${TABLE} FOR VALUES IN (${topicId}) PARTITION BY RANGE (time)`,
  )
  const from = new Date(Date.now() - 3_600_000).toISOString()
  const to = new Date(Date.now() + 86_400_000).toISOString()
  await sql.unsafe(`CREATE TABLE ${part}_0 PARTITION OF ${part} FOR VALUES FROM ('${from}') TO ('${to}')`)
  // offsets handed out here, without the broker's per-partition counter row: the limit, not a log
  const next = new Array<number>(c.partitions).fill(0)
  const claim = (p: number) => {
    const base = next[p]!
    next[p] = base + c.batch
    return base
  }
  return { topicId, part, claim }
}

function rawTarget(
  name: string,
  send: (sql: postgres.Sql, topicId: number, partition: number, base: number, b: Batch) => Promise<void>,
  url: () => string,
): ThroughputTarget {
  return {
    name,
    durability: 'PostgreSQL COMMIT (synchronous_commit=on)',
    async open(c: ThroughputCase): Promise<OpenedTarget> {
      const sql = postgres(url(), { max: c.producers, onnotice: () => {} })
      const cell = await openCell(sql, c)
      const producers: SendBatch[] = Array.from({ length: c.producers }, (_, i) => {
        const b = makeBatch(c, i * c.batch)
        const partition = i % c.partitions
        return async () => {
          b.ids = Array.from({ length: c.batch }, () => randomUUID())
          await send(sql, cell.topicId, partition, cell.claim(partition), b)
          return c.batch
        }
      })
      return {
        producers,
        async close() {
          await sql.unsafe(`DROP TABLE IF EXISTS ${cell.part} CASCADE`).catch(() => {})
          await sql.end()
        },
      }
    },
  }
}

/** Multi-row INSERT … SELECT FROM unnest(arrays), one statement (one commit) per batch. */
export function rawUnnest(url: () => string): ThroughputTarget {
  return rawTarget(
    'raw PG unnest',
    async (sql, topicId, partition, base, b) => {
      await sql`
        INSERT INTO bench_raw_events (topic_id, partition, "offset", time, id, type, source, key, dedupe_key, content_type, headers, data)
        SELECT ${topicId}, ${partition}, ${base}::bigint + u.ord - 1, now(), u.id, 'game.kill', 'bench', NULL, NULL,
               'application/json', NULL, u.d::bytea
        FROM unnest(${b.ids}::text[], ${b.hex}::text[]) WITH ORDINALITY AS u(id, d, ord)`
    },
    url,
  )
}

/** COPY … FROM STDIN in text format, one COPY (one commit) per batch. */
export function rawCopy(url: () => string): ThroughputTarget {
  return rawTarget(
    'raw PG COPY',
    async (sql, topicId, partition, base, b) => {
      const time = new Date().toISOString()
      const lines = b.ids.map(
        (id, i) =>
          `${topicId}\t${partition}\t${base + i}\t${time}\t${id}\tgame.kill\tbench\t\\N\t\\N\tapplication/json\t\\N\t\\\\x${b.data[i]!.toString('hex')}\n`,
      )
      const stream = await sql`
        COPY bench_raw_events (topic_id, partition, "offset", time, id, type, source, key, dedupe_key, content_type, headers, data)
        FROM STDIN`.writable()
      await new Promise<void>((resolve, reject) => {
        stream.on('error', reject)
        stream.on('finish', resolve)
        stream.end(lines.join(''))
      })
    },
    url,
  )
}
