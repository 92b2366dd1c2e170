import type { Sql } from './db'

/** An event as the log stores it; `headersJson` and `data` are kept as raw bytes/text. */
export interface StoredEvent {
  partition: number
  offset: number
  /** The broker's commit time. */
  time: Date
  /** The producer's event time, when it gave one (null or absent: none). */
  eventTime?: Date | null
  id: string
  type: string
  source: string
  key: string | null
  dedupeKey: string | null
  contentType: string
  headersJson: string | null
  data: Buffer
  /** Id of the key that sealed the stored payload; null or absent when stored in the clear. */
  encKey?: string | null
  /** On an opened event, the payload as the log stores it and the id of the key that opens it from any topic. */
  sealed?: { data: Buffer; encKey: string }
  /** The payload as the JSON text it was published as, on events handed to live readers by the broker that wrote them. */
  dataJson?: string | undefined
}

export type NewEvent = Omit<StoredEvent, 'offset' | 'time' | 'partition' | 'data'> & {
  /** The payload's bytes; absent while the payload is only held as JSON text (`dataJson`): see `payloadOf`. */
  data?: Buffer
  /** The payload as the JSON text it was published as: the log stores it as it is, without a base64 round trip. */
  dataJson?: string
  /** Payload size in bytes. */
  size: number
  /** An idempotent producer's id and this event's number in its sequence (instead of a dedupe key). */
  producer?: string | undefined
  seq?: number | undefined
  /** What the log stores when it differs from the payload (a sealed payload); live readers still get the payload. */
  storedData?: Buffer
}

/** A new event's payload bytes, made from its JSON text on first use. */
export function payloadOf(e: NewEvent): Buffer {
  e.data ??= Buffer.from(e.dataJson ?? '', 'utf8')
  return e.data
}

/** Opens sealed payloads of rows read through a given client (set by the broker that owns it). */
export type PayloadDecoder = (topicId: number, events: StoredEvent[]) => Promise<void>
const decoders = new WeakMap<Sql, PayloadDecoder>()

export function registerPayloadDecoder(sql: Sql, decoder: PayloadDecoder): void {
  decoders.set(sql, decoder)
}

async function decoded(sql: Sql, topicId: number, events: StoredEvent[]): Promise<StoredEvent[]> {
  const decoder = decoders.get(sql)
  if (decoder && events.some((e) => e.encKey)) await decoder(topicId, events)
  return events
}

/** Thrown inside a write transaction when some dedupe keys were already taken; the transaction rolls back. */
export class DedupeConflict extends Error {
  constructor(readonly keys: Set<string>) {
    super('dedupe keys already present')
  }
}

/**
 * Thrown when the batch a batch had to follow was not stored (it failed, or its
 * retry went after this one): this one changed nothing.
 */
export class PredecessorNotStored extends Error {
  constructor(readonly after: number) {
    super(`the batch sent before this one (${after}) was not stored`)
  }
}

export interface WriteBatch {
  topicId: number
  partition: number
  time: Date
  events: NewEvent[]
  /** Names this batch; unique to the partition in practice. */
  batch: number
  /** The batch this one must follow: refused unless it is the last one stored in the partition. */
  after: number | null
  /** Dedupe keys recorded before this instant have expired and may be reused. */
  dedupeCutoff: Date
  notifyChannel: string
  /** The NOTIFY payload up to the partition's next offset, which the database appends. */
  notifyPrefix: string
}

/**
 * The batch as the columns `ql_append` reads, one array per column. A column
 * every event leaves empty goes as an empty array, and one with the same value
 * for every event (type, source, content type mostly are) as that one value.
 * JSON payloads travel as JSON inside one JSON array and are stored as their
 * text; bytes, sealed payloads and payloads with \u escapes (PostgreSQL's JSON
 * reader refuses \u0000 and lone surrogates) as base64 strings, flagged in `binary`.
 */
function columns(events: NewEvent[]) {
  const n = events.length
  const ids = new Array<string>(n)
  const types = new Array<string>(n)
  const sources = new Array<string>(n)
  const contentTypes = new Array<string>(n)
  const keys = new Array<string | null>(n)
  const dedupeKeys = new Array<string | null>(n)
  const producers = new Array<string | null>(n)
  const seqs = new Array<number | null>(n)
  const headers = new Array<string | null>(n)
  const encKeys = new Array<string | null>(n)
  const eventTimes = new Array<string | null>(n)
  const binary = new Array<boolean>(n)
  let sameType = true
  let sameSource = true
  let sameContentType = true
  let anyKey = false
  let anyDedupeKey = false
  let anyProducer = false
  let anyHeaders = false
  let anyEncKey = false
  let anyEventTime = false
  let anyBinary = false
  let payloads = '['
  for (let i = 0; i < n; i++) {
    const e = events[i]!
    ids[i] = e.id
    types[i] = e.type
    sources[i] = e.source
    contentTypes[i] = e.contentType
    sameType &&= e.type === types[0]
    sameSource &&= e.source === sources[0]
    sameContentType &&= e.contentType === contentTypes[0]
    keys[i] = e.key
    anyKey ||= e.key !== null
    dedupeKeys[i] = e.dedupeKey
    anyDedupeKey ||= e.dedupeKey !== null
    producers[i] = e.producer ?? null
    seqs[i] = e.seq ?? null
    anyProducer ||= e.producer !== undefined
    headers[i] = e.headersJson
    anyHeaders ||= e.headersJson !== null
    encKeys[i] = e.encKey ?? null
    anyEncKey ||= !!e.encKey
    eventTimes[i] = e.eventTime ? e.eventTime.toISOString() : null
    anyEventTime ||= !!e.eventTime
    if (i > 0) payloads += ','
    if (e.storedData === undefined && e.dataJson !== undefined && !e.dataJson.includes('\\u')) {
      payloads += e.dataJson
      binary[i] = false
    } else {
      payloads += `"${(e.storedData ?? payloadOf(e)).toString('base64')}"`
      binary[i] = true
      anyBinary = true
    }
  }
  const none = '{}'
  return {
    ids: arrayLiteral(ids),
    types: arrayLiteral(sameType ? types.slice(0, 1) : types),
    sources: arrayLiteral(sameSource ? sources.slice(0, 1) : sources),
    contentTypes: arrayLiteral(sameContentType ? contentTypes.slice(0, 1) : contentTypes),
    keys: anyKey ? arrayLiteral(keys) : none,
    dedupeKeys: anyDedupeKey ? arrayLiteral(dedupeKeys) : none,
    producers: anyProducer ? arrayLiteral(producers) : none,
    seqs: anyProducer ? arrayLiteral(seqs) : none,
    headers: anyHeaders ? arrayLiteral(headers) : none,
    encKeys: anyEncKey ? arrayLiteral(encKeys) : none,
    eventTimes: anyEventTime ? arrayLiteral(eventTimes) : none,
    payloads: `${payloads}]`,
    binary: anyBinary ? `{${binary.map((b) => (b ? 't' : 'f')).join(',')}}` : none,
  }
}

const ARRAY_SPECIAL = /[\\"]/g

/**
 * A PostgreSQL array literal of text or numbers, made here rather than by the
 * client, which runs two regular expressions over every element: an element is
 * escaped only when it holds a quote or a backslash (ids and names rarely do).
 */
function arrayLiteral(values: ReadonlyArray<string | number | null>): string {
  let out = '{'
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (i > 0) out += ','
    if (v === null) out += 'NULL'
    else if (typeof v === 'number') out += v
    else if (v.includes('"') || v.includes('\\')) out += `"${v.replace(ARRAY_SPECIAL, '\\$&')}"`
    else out += `"${v}"`
  }
  return `${out}}`
}

/** SQLSTATE `ql_append` raises when a dedupe key of the batch is already taken. */
const DEDUPE_TAKEN = 'QL409'
/** SQLSTATE `ql_append` raises when the batch it must follow is not the last one stored. */
const PREDECESSOR_NOT_STORED = 'QL412'

export interface Appended {
  /** The batch's first offset. */
  base: number
  /** Indexes (0-based) of events a producer had stored already: not written again. */
  repeats: number[]
}

/**
 * Writes one group-commit batch as one statement (its own transaction).
 * `ql_append` takes the partition's row lock first, so offsets commit in order
 * with no gaps (DESIGN invariant #1); events a producer stored already are left
 * out, and the rest numbered on without a gap. The batch travels as one array
 * literal per column and one JSON array of payloads (see `columns`), which
 * PostgreSQL reads in C. Statements sent on one connection run in the order
 * sent, so a partition's batches can be pipelined there.
 */
export async function writeBatch(sql: Sql, batch: WriteBatch): Promise<Appended> {
  const { topicId, partition, events } = batch
  let keyed = 0
  // each producer's lowest and highest seq in the batch
  const seqs = new Map<string, { min: number; max: number }>()
  for (const e of events) {
    if (e.dedupeKey !== null) keyed++
    if (e.producer === undefined) continue
    const range = seqs.get(e.producer)
    if (!range) seqs.set(e.producer, { min: e.seq!, max: e.seq! })
    else {
      range.min = Math.min(range.min, e.seq!)
      range.max = Math.max(range.max, e.seq!)
    }
  }
  const ranges = [...seqs.values()]
  try {
    const c = columns(events)
    const [row] = await sql`
      SELECT base, repeats FROM ql_append(${topicId}, ${partition}, ${batch.time.toISOString()}::timestamptz,
        ${batch.dedupeCutoff.toISOString()}::timestamptz, ${c.ids}::text[], ${c.types}::text[],
        ${c.sources}::text[], ${c.contentTypes}::text[], ${c.keys}::text[], ${c.dedupeKeys}::text[],
        ${c.producers}::text[], ${c.seqs}::bigint[], ${c.headers}::text[], ${c.encKeys}::text[],
        ${c.eventTimes}::timestamptz[], ${c.payloads}::text::json, ${c.binary}::boolean[], ${keyed}, ${arrayLiteral([...seqs.keys()])}::text[],
        ${arrayLiteral(ranges.map((r) => r.min))}::bigint[], ${arrayLiteral(ranges.map((r) => r.max))}::bigint[],
        ${batch.notifyChannel}, ${batch.notifyPrefix}, ${batch.batch}::bigint, ${batch.after}::bigint)`
    return { base: Number(row!.base), repeats: (row!.repeats as number[]).map((ord) => ord - 1) }
  } catch (e) {
    const code = (e as { code?: string }).code
    if (code === PREDECESSOR_NOT_STORED) throw new PredecessorNotStored(batch.after!)
    if (code !== DEDUPE_TAKEN) throw e
    // the claim that beat this one has committed (the insert waited for it): its keys are visible now
    const keys = events.flatMap((x) => (x.dedupeKey === null ? [] : [x.dedupeKey]))
    const taken = await sql`
      SELECT dedupe_key FROM ql_dedupe
      WHERE topic_id = ${topicId} AND dedupe_key = ANY(${keys}::text[])
        AND created_at >= ${batch.dedupeCutoff.toISOString()}::timestamptz`
    // none visible (the winner expired meanwhile): a plain retry will do
    if (taken.length === 0) throw Object.assign(new Error('dedupe claim lost; retry'), { code: '40001' })
    throw new DedupeConflict(new Set(taken.map((r) => r.dedupe_key as string)))
  }
}

/** How the log names a producer's event in its `dedupe_key` column. */
export const sequenceKey = (producer: string, seq: number) => `${producer}:${seq}`

/**
 * The receipts of events a producer stored before, found by their sequence
 * keys in the partition: first among the offsets just below `before` (a resent
 * batch is a recent one), then anywhere.
 */
export async function sequenceReceipts(
  sql: Sql,
  topicId: number,
  partition: number,
  keys: string[],
  before: number,
): Promise<Map<string, DedupeReceipt>> {
  const found = new Map<string, DedupeReceipt>()
  const look = async (from: number) => {
    const rows = await sql`
      SELECT dedupe_key, id, "offset" FROM ql_events
      WHERE topic_id = ${topicId} AND partition = ${partition}
        AND "offset" >= ${from} AND "offset" < ${before}
        AND dedupe_key = ANY(${keys.filter((k) => !found.has(k))}::text[])`
    for (const r of rows)
      found.set(r.dedupe_key as string, { id: r.id as string, partition, offset: Number(r.offset) })
  }
  await look(Math.max(0, before - 100_000))
  if (found.size < keys.length) await look(0)
  return found
}

export interface DedupeReceipt {
  id: string
  partition: number
  offset: number
}

export async function dedupeReceipts(
  sql: Sql,
  topicId: number,
  keys: string[],
): Promise<Map<string, DedupeReceipt>> {
  const rows = await sql`
    SELECT dedupe_key, event_id, partition, "offset" FROM ql_dedupe
    WHERE topic_id = ${topicId} AND dedupe_key = ANY(${keys}::text[])`
  return new Map(
    rows.map((r) => [
      r.dedupe_key as string,
      { id: r.event_id as string, partition: Number(r.partition), offset: Number(r.offset) },
    ]),
  )
}

export interface ReadFilter {
  /** Per partition: the first offset wanted. Only these partitions are read. */
  positions: Map<number, number>
  sinceMs?: number | undefined
  untilMs?: number | undefined
  key?: string | undefined
  /** POSIX regex the type must match. */
  typeRegex?: string | undefined
  limit: number
  /**
   * Payload bytes a read returns at most, besides its first event (which always comes): a page
   * of large events is cut short, so what one reader asks for stays small whatever it asks.
   */
  maxBytes?: number | undefined
  /** `offset` for one partition, `time` to merge partitions in time order. */
  order: 'offset' | 'time'
}

/** Events read by one query, and whether they are all there were to read. */
export interface EventPage {
  events: StoredEvent[]
  /**
   * True when neither `limit` nor `maxBytes` left a matching event out: the read
   * reached the end of what was committed when it ran (a reader may then move to
   * the high watermark it took before reading).
   */
  short: boolean
}

// drizzle's driver keeps timestamps as text on the shared client, so rows carry epoch milliseconds
export const COLUMNS = `e.partition, e."offset", (extract(epoch FROM e.time) * 1000)::float8 AS time_ms, e.id, e.type,
  e.source, e.key, e.dedupe_key, e.content_type, e.headers::text AS headers, e.data, e.enc_key,
  (extract(epoch FROM e.event_time) * 1000)::float8 AS event_time_ms`

/** The latest time of a partition's events up to this one, in offset order (see readEventPage). */
const SORT_MS = `max(extract(epoch FROM e.time) * 1000) OVER (ORDER BY e."offset") AS sort_ms`

export function rowToStored(r: Record<string, unknown>): StoredEvent {
  return {
    partition: Number(r.partition),
    offset: Number(r.offset),
    time: new Date(Number(r.time_ms)),
    eventTime:
      r.event_time_ms === null || r.event_time_ms === undefined ? null : new Date(Number(r.event_time_ms)),
    id: r.id as string,
    type: r.type as string,
    source: r.source as string,
    key: (r.key as string | null) ?? null,
    dedupeKey: (r.dedupe_key as string | null) ?? null,
    contentType: r.content_type as string,
    headersJson: (r.headers as string | null) ?? null,
    data: r.data as Buffer,
    encKey: (r.enc_key as string | null) ?? null,
  }
}

export async function readEvents(sql: Sql, topicId: number, f: ReadFilter): Promise<StoredEvent[]> {
  return (await readEventPage(sql, topicId, f)).events
}

export async function readEventPage(sql: Sql, topicId: number, f: ReadFilter): Promise<EventPage> {
  const parts = [...f.positions.keys()]
  const offs = parts.map((p) => f.positions.get(p)!)
  const since =
    f.sinceMs === undefined ? sql`` : sql`AND e.time >= ${new Date(f.sinceMs).toISOString()}::timestamptz`
  const until =
    f.untilMs === undefined ? sql`` : sql`AND e.time < ${new Date(f.untilMs).toISOString()}::timestamptz`
  const key = f.key === undefined ? sql`` : sql`AND e.key = ${f.key}`
  const type = f.typeRegex === undefined ? sql`` : sql`AND e.type ~ ${f.typeRegex}`
  const orderBy = f.order === 'offset' ? 'e.partition, e."offset"' : 'e.sort_ms, e.partition, e."offset"'
  const order = sql.unsafe(`ORDER BY ${orderBy}`)
  // each partition is read from its position by its own index range, at most `limit` rows of it:
  // a page costs the same at the head of a long backlog as at its tail. Pages in time order sort
  // by `sort_ms`, the latest time up to each row in its partition's offset order: two brokers
  // appending to one partition stamp their own clocks, so a later offset may carry an earlier
  // time, and a page cut by plain time could keep a partition's offset 3 but not 2 — the reader,
  // moving past 3, would skip 2. The running maximum follows offsets, so each partition's part of
  // a page is a prefix of its range, and across partitions the order is still that of time.
  if (f.maxBytes === undefined) {
    const rows = await sql`
      SELECT e.*
      FROM unnest(${parts}::int[], ${offs}::bigint[]) AS c(p, o)
      CROSS JOIN LATERAL (
        SELECT ${sql.unsafe(COLUMNS)}, ${sql.unsafe(SORT_MS)}
        FROM ql_events e
        WHERE e.topic_id = ${topicId} AND e.partition = c.p AND e."offset" >= c.o ${since} ${until} ${key} ${type}
        ORDER BY e."offset"
        LIMIT ${f.limit}
      ) e
      ${order}
      LIMIT ${f.limit}`
    return { events: await decoded(sql, topicId, rows.map(rowToStored)), short: rows.length < f.limit }
  }
  // The same with a byte budget: a row is kept while the bytes before it, in its partition and
  // then in the page's order, are under the budget. Whatever the page keeps, a partition kept
  // of its own prefix, so the per-partition cut loses nothing the page would keep. The sizes
  // come from the stored lengths, without reading the payloads of rows left out.
  const rows = await sql`
    SELECT * FROM (
      SELECT e.*, sum(e.size) OVER (${order}) AS total
      FROM unnest(${parts}::int[], ${offs}::bigint[]) AS c(p, o)
      CROSS JOIN LATERAL (
        SELECT * FROM (
          SELECT ${sql.unsafe(COLUMNS)}, ${sql.unsafe(SORT_MS)}, octet_length(e.data) AS size,
                 sum(octet_length(e.data)) OVER (ORDER BY e."offset") AS run
          FROM ql_events e
          WHERE e.topic_id = ${topicId} AND e.partition = c.p AND e."offset" >= c.o ${since} ${until} ${key} ${type}
          ORDER BY e."offset"
          LIMIT ${f.limit}
        ) w
        WHERE w.run - w.size < ${f.maxBytes}
      ) e
      ${order}
      LIMIT ${f.limit}
    ) e
    WHERE e.total - e.size < ${f.maxBytes}
    ${order}`
  // a row left out by the budget means the rows kept hold at least the budget
  const total = rows.length === 0 ? 0 : Number(rows[rows.length - 1]!.total)
  return {
    events: await decoded(sql, topicId, rows.map(rowToStored)),
    short: rows.length < f.limit && total < f.maxBytes,
  }
}

/** Next offset of every partition (the high watermarks). */
export async function highWatermarks(sql: Sql, topicId: number): Promise<Map<number, number>> {
  const rows =
    await sql`SELECT partition, next_offset FROM ql_partitions WHERE topic_id = ${topicId} ORDER BY partition`
  return new Map(rows.map((r) => [Number(r.partition), Number(r.next_offset)]))
}

/**
 * Lowest stored offset of every partition; a partition with nothing stored gets its high watermark.
 * The log is named by the topic's id itself, not through the partitions' column, so the planner
 * reads (and locks) that topic's tables only: with a thousand topics, a read of all of them runs
 * out of lock slots ("out of shared memory").
 */
export async function lowWatermarks(sql: Sql, topicId: number): Promise<Map<number, number>> {
  const rows = await sql`
    SELECT p.partition, p.next_offset,
           (SELECT e."offset" FROM ql_events e WHERE e.topic_id = ${topicId} AND e.partition = p.partition
            ORDER BY e."offset" LIMIT 1) AS first
    FROM ql_partitions p WHERE p.topic_id = ${topicId}`
  return new Map(
    rows.map((r) => [Number(r.partition), r.first === null ? Number(r.next_offset) : Number(r.first)]),
  )
}

/** First offset per partition whose time is at or after `timeMs` (the high watermark when none is). */
export async function offsetsForTime(
  sql: Sql,
  topicId: number,
  timeMs: number,
): Promise<Map<number, number>> {
  const at = new Date(timeMs)
  const rows = await sql`
    SELECT p.partition, p.next_offset,
           (SELECT e."offset" FROM ql_events e WHERE e.topic_id = ${topicId} AND e.partition = p.partition
              AND e.time >= ${at.toISOString()}::timestamptz ORDER BY e."offset" LIMIT 1) AS first
    FROM ql_partitions p WHERE p.topic_id = ${topicId}`
  return new Map(
    rows.map((r) => [Number(r.partition), r.first === null ? Number(r.next_offset) : Number(r.first)]),
  )
}

/** The events at the given offsets of one partition, in offset order (missing ones are left out). */
export async function readAt(
  sql: Sql,
  topicId: number,
  partition: number,
  offsets: number[],
): Promise<StoredEvent[]> {
  const rows = await sql`
    SELECT ${sql.unsafe(COLUMNS)}
    FROM ql_events e
    WHERE e.topic_id = ${topicId} AND e.partition = ${partition} AND e."offset" = ANY(${offsets}::bigint[])
    ORDER BY e."offset"`
  return decoded(sql, topicId, rows.map(rowToStored))
}

export interface NewestFilter {
  /** Per partition: read offsets below this one, down to `floor`. */
  before: Map<number, number>
  /** Per partition: the lowest offset this read may look at (its window's start). */
  floor: Map<number, number>
  /** Payload bytes that must appear in the event (a plain, case-sensitive substring). */
  contains?: string | undefined
  /** A JSON field (its path, one key per step) and the text its value must equal. */
  field?: { path: string[]; equals: string } | undefined
  key?: string | undefined
  typeRegex?: string | undefined
  limit: number
}

/**
 * The newest events below a position per partition, newest first by time over the partitions.
 * Each partition looks only at its window [floor, before), by its offset index, so a search
 * for a rare value costs the window's rows, not the topic's; payload filters run in the
 * database. Encrypted payloads are never matched by payload filters (their bytes are sealed).
 */
export async function readNewestEvents(sql: Sql, topicId: number, f: NewestFilter): Promise<StoredEvent[]> {
  const parts = [...f.before.keys()]
  const befores = parts.map((p) => f.before.get(p)!)
  const floors = parts.map((p) => f.floor.get(p) ?? 0)
  const key = f.key === undefined ? sql`` : sql`AND e.key = ${f.key}`
  const type = f.typeRegex === undefined ? sql`` : sql`AND e.type ~ ${f.typeRegex}`
  const contains =
    f.contains === undefined
      ? sql``
      : sql`AND e.enc_key IS NULL AND position(convert_to(${f.contains}, 'UTF8') IN e.data) > 0`
  // only JSON payloads are parsed, and only ones that are valid JSON text: a stored event of
  // another content type, or bytes the broker kept as sent, fails nobody's search
  const field =
    f.field === undefined
      ? sql``
      : sql`AND e.enc_key IS NULL AND e.content_type LIKE 'application/json%'
            AND ql_try_jsonb(e.data) #>> ${f.field.path}::text[] = ${f.field.equals}`
  const rows = await sql`
    SELECT e.*
    FROM unnest(${parts}::int[], ${befores}::bigint[], ${floors}::bigint[]) AS c(p, b, f)
    CROSS JOIN LATERAL (
      SELECT ${sql.unsafe(COLUMNS)}
      FROM ql_events e
      WHERE e.topic_id = ${topicId} AND e.partition = c.p AND e."offset" < c.b AND e."offset" >= c.f
        ${key} ${type} ${contains} ${field}
      ORDER BY e."offset" DESC
      LIMIT ${f.limit}
    ) e
    ORDER BY e.time_ms DESC, e.partition, e."offset" DESC
    LIMIT ${f.limit}`
  return decoded(sql, topicId, rows.map(rowToStored))
}
