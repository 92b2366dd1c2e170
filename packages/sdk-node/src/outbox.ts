import { randomBytes } from 'node:crypto'
import { ValidationError } from '@questlog/protocol'
import { checkPayload, type TopicRef, topicName } from '@questlog/sdk-core'

/** A transaction of the `postgres` package (`sql.begin(async (tx) => …)`). */
export interface PostgresJsTransaction {
  unsafe(query: string, params?: unknown[]): PromiseLike<ReadonlyArray<Record<string, unknown>>>
}

/** A `pg` client or pool client inside `BEGIN` … `COMMIT`. */
export interface PgTransaction {
  query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>
}

/** A drizzle transaction (`db.transaction(async (tx) => …)`), on either driver. */
export interface DrizzleTransaction {
  execute(query: string): PromiseLike<unknown>
}

export type OutboxTransaction = PostgresJsTransaction | PgTransaction | DrizzleTransaction

export interface OutboxPublishOptions {
  /** Partition key: events with the same key keep their (commit) order. */
  key?: string
  partition?: number
  /** Dotted event type; defaults to the topic name. */
  type?: string
  headers?: Record<string, string>
  /** Overrides the dedupe key the broker relays the event under (default `outbox:<row id>`). */
  dedupeKey?: string
}

export interface OutboxReceipt {
  /** The outbox row's id: the event reaches the log, once, after the transaction commits. */
  outboxId: string
}

/**
 * Writes an event into the Questlog outbox table of the application's own database, inside the
 * caller's transaction: it is published when (and only if) that transaction commits, in commit
 * order, exactly once. The table comes from `migrations/questlog-outbox.sql` of this package;
 * a broker started with `QUESTLOG_OUTBOX_DATABASE_URL` on that database relays it.
 *
 * ```ts
 * await sql.begin(async (tx) => {
 *   await tx`UPDATE players SET gold = gold + 100 WHERE id = ${player}`
 *   await publishInTransaction(tx, 'game.rewards', { player, gold: 100 }, { key: player })
 * })
 * ```
 */
export async function publishInTransaction<T>(
  tx: OutboxTransaction,
  topic: TopicRef<T>,
  data: T,
  options: OutboxPublishOptions = {},
): Promise<OutboxReceipt> {
  const invalid = checkPayload(topic, data)
  if (invalid) throw invalid
  const json = JSON.stringify(data ?? null)
  if (json === undefined) {
    throw new ValidationError([{ path: 'data', message: 'the payload is not JSON (a function or a symbol)' }])
  }
  const row = JSON.stringify({
    topic: topicName(topic),
    key: options.key ?? null,
    partition: options.partition ?? null,
    type: options.type ?? null,
    dedupe_key: options.dedupeKey ?? null,
    headers: options.headers ?? null,
    data: json,
  })
  const insert = (param: string) =>
    `INSERT INTO questlog_outbox (topic, key, partition, type, dedupe_key, headers, data)
     SELECT r.topic, r.key, r.partition, r.type, r.dedupe_key, r.headers, r.data
     FROM json_to_record(${param}::text::json) AS r(topic text, key text, partition integer, type text,
                                               dedupe_key text, headers jsonb, data text)
     RETURNING id::text AS id`
  let id: unknown
  if (typeof tx === 'function' && 'unsafe' in tx) {
    const rows = await (tx as PostgresJsTransaction).unsafe(insert('$1'), [row])
    id = rows[0]?.id
  } else if ('query' in tx && typeof tx.query === 'function') {
    const res = await (tx as PgTransaction).query(insert('$1'), [row])
    id = res.rows[0]?.id
  } else if ('execute' in tx && typeof tx.execute === 'function') {
    // drizzle runs a raw string without parameters: the row goes as one dollar-quoted literal
    // under a tag the text cannot contain, so nothing in it is ever read as SQL
    let tag: string
    do tag = `ql${randomBytes(6).toString('hex')}`
    while (row.includes(tag))
    const result = await tx.execute(insert(`$${tag}$${row}$${tag}$`))
    const rows = Array.isArray(result) ? result : (result as { rows?: unknown[] }).rows
    id = (rows?.[0] as { id?: unknown } | undefined)?.id
  } else {
    throw new TypeError(
      'publishInTransaction needs a transaction of the postgres or pg package, or a drizzle transaction',
    )
  }
  if (typeof id !== 'string') throw new Error('the outbox insert returned no id')
  return { outboxId: id }
}
