import { z } from 'zod'
import { headersSchema } from './envelope'
import { isValidSubject } from './subject'
import { MAX_JSON_DEPTH } from './text'

export const eventTypeSchema = z
  .string()
  .refine(isValidSubject, "a type is a dotted subject such as 'game.match.end'")

/** Largest batch one request may carry. */
export const MAX_BATCH_EVENTS = 10_000

/**
 * How far past the broker's clock an event time may be: a producer's clock may run ahead, but not
 * by hours (Kafka's `log.message.timestamp.after.max.ms` defaults to the same hour).
 */
export const EVENT_TIME_MAX_AHEAD_MS = 3_600_000

const ISO_WITH_ZONE = 'use ISO-8601 with a time zone, e.g. 2026-11-27T18:00:00Z'

/** A producer's event time: ISO-8601 with a zone, from 1970 on (the broker also refuses one more than an hour ahead). */
export const eventTimeSchema = z.iso
  .datetime({ offset: true, message: ISO_WITH_ZONE })
  .refine((t) => Date.parse(t) >= 0, 'an event time is 1970-01-01T00:00:00Z or later')

/** One event as a publisher sends it; the broker fills in the rest of the envelope. */
export const publishEventSchema = z
  .strictObject({
    /** Dotted subject; defaults to the topic name. */
    type: eventTypeSchema.optional(),
    /** Partition key: the same key always lands on the same partition, in order. */
    key: z.string().min(1).max(512).optional(),
    /** Explicit partition; wins over `key`. */
    partition: z.number().int().min(0).optional(),
    /** A repeat of this key inside the topic's dedupe window stores nothing and returns the first receipt. */
    dedupeKey: z.string().min(1).max(512).optional(),
    /**
     * An idempotent producer's id, with `seq`: instead of a dedupe key, a producer numbers its events,
     * increasing per partition; an event whose seq is at or below the last one stored for that producer
     * in its partition (inside the dedupe window) is a repeat: nothing is stored, the first receipt returns.
     */
    producer: z.string().min(1).max(128).optional(),
    /** The event's number in its producer's sequence (see `producer`). */
    seq: z.number().int().min(0).optional(),
    source: z.string().min(1).max(512).optional(),
    /** Event id; a UUIDv7 is assigned when absent. */
    id: z.string().min(1).max(256).optional(),
    /**
     * When the event happened, as the producer says (CloudEvents `time`, Kafka's CreateTime); read
     * back as `eventTime`. The envelope's `time` stays the broker's commit time.
     */
    time: eventTimeSchema.optional(),
    headers: headersSchema.optional(),
    /** Defaults to `application/json` for `data`, `application/octet-stream` for `dataBase64`. */
    contentType: z.string().min(1).max(256).optional(),
    /** JSON payload. */
    data: z.json().optional(),
    /** Binary payload, base64. */
    dataBase64: z.base64().optional(),
    /** Schema version of the payload, on a topic with registered schemas; the latest when absent. */
    schemaVersion: z.number().int().min(1).optional(),
  })
  .refine((e) => (e.data === undefined) !== (e.dataBase64 === undefined), {
    message: 'give exactly one of data or dataBase64',
    path: ['data'],
  })
  .refine((e) => (e.producer === undefined) === (e.seq === undefined), {
    message: 'give producer and seq together',
    path: ['seq'],
  })
  .refine((e) => e.producer === undefined || e.dedupeKey === undefined, {
    message: 'give a dedupeKey or a producer sequence, not both',
    path: ['dedupeKey'],
  })

export type PublishEvent = z.infer<typeof publishEventSchema>

/** A string of 1 to `max` characters, as the publish schema's text fields take. */
export const isText = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length >= 1 && v.length <= max

function quickHeaders(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  for (const name in v) {
    const value = (v as Record<string, unknown>)[name]
    if (name.length < 1 || name.length > 256 || typeof value !== 'string' || value.length > 8192) return false
  }
  return true
}

/**
 * True for JSON values whose numbers are all finite (`JSON.parse` turns 1e400
 * into Infinity, which the schema refuses) and that nest no deeper than
 * MAX_JSON_DEPTH; false leaves the verdict to the schema and the depth check.
 */
function isFiniteJson(v: unknown, depth = 0): boolean {
  if (typeof v === 'number') return Number.isFinite(v)
  if (typeof v !== 'object' || v === null) return true
  if (depth >= MAX_JSON_DEPTH) return false
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isFiniteJson(v[i], depth + 1)) return false
    return true
  }
  for (const k in v) {
    // an own "__proto__" (JSON.parse makes one) is what the schema drops: leave it to the schema
    if (k === '__proto__' || !isFiniteJson((v as Record<string, unknown>)[k], depth + 1)) return false
  }
  return true
}

/** One event by hand, for the shapes producers send; false leaves the verdict (and the message) to zod. */
function quickEvent(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  let hasData = false
  for (const field in v) {
    const value = (v as Record<string, unknown>)[field]
    switch (field) {
      case 'data':
        if (!isFiniteJson(value)) return false
        hasData = true
        break
      case 'type':
        if (typeof value !== 'string' || !isValidSubject(value)) return false
        break
      case 'key':
      case 'dedupeKey':
      case 'source':
        if (!isText(value, 512)) return false
        break
      case 'producer':
        if (!isText(value, 128)) return false
        break
      case 'seq':
        if (!Number.isSafeInteger(value) || (value as number) < 0) return false
        break
      case 'time':
        if (!eventTimeSchema.safeParse(value).success) return false
        break
      case 'id':
      case 'contentType':
        if (!isText(value, 256)) return false
        break
      case 'partition':
        if (!Number.isSafeInteger(value) || (value as number) < 0) return false
        break
      case 'schemaVersion':
        if (!Number.isSafeInteger(value) || (value as number) < 1) return false
        break
      case 'headers':
        if (!quickHeaders(value)) return false
        break
      default:
        // dataBase64 and unknown fields: rare, left to the schema
        return false
    }
  }
  const e = v as { producer?: unknown; seq?: unknown; dedupeKey?: unknown }
  // producer and seq go together, and never with a dedupe key
  if ((e.producer === undefined) !== (e.seq === undefined)) return false
  if (e.producer !== undefined && e.dedupeKey !== undefined) return false
  return hasData
}

/**
 * The events of a publish body (`{events:[…]}` when `batch`, else one event)
 * checked by hand in one pass, for input that came from `JSON.parse` (so
 * `data` is JSON by construction). Accepts only what `publishEventSchema` and
 * `publishBatchSchema` accept, and returns the same values; `undefined` means
 * "not sure": run the schemas, which also name the failing field.
 */
export function quickPublishEvents(body: unknown, batch: boolean): PublishEvent[] | undefined {
  if (!batch) return quickEvent(body) ? [body as PublishEvent] : undefined
  if (typeof body !== 'object' || body === null) return undefined
  for (const field in body) if (field !== 'events') return undefined
  const events = (body as { events?: unknown }).events
  if (!Array.isArray(events) || events.length < 1 || events.length > MAX_BATCH_EVENTS) return undefined
  for (let i = 0; i < events.length; i++) if (!quickEvent(events[i])) return undefined
  return events as PublishEvent[]
}

export const publishBatchSchema = z.strictObject({
  events: z
    .array(publishEventSchema)
    .min(1, 'a batch holds at least one event')
    .max(MAX_BATCH_EVENTS, `a batch holds at most ${MAX_BATCH_EVENTS} events`),
})

export type PublishBatch = z.infer<typeof publishBatchSchema>

export const backpressureHintSchema = z.object({
  /** Suggested pause before the next batch. */
  retryAfterMs: z.number(),
  /** Suggested events per second for this producer. */
  suggestedRate: z.number().optional(),
  reason: z.string(),
})

export type BackpressureHint = z.infer<typeof backpressureHintSchema>

export const receiptSchema = z.object({
  id: z.string(),
  partition: z.number().int(),
  offset: z.string(),
  /** True when the dedupe key was seen before: nothing new was stored. */
  duplicate: z.boolean(),
  /** Set when the event failed its schema and went to the topic's `.invalid` topic (partition and offset are there). */
  invalid: z.object({ topic: z.string(), reason: z.string() }).optional(),
})

export type Receipt = z.infer<typeof receiptSchema>

export const publishResponseSchema = receiptSchema.extend({ backpressure: backpressureHintSchema.optional() })
export const publishBatchResponseSchema = z.object({
  receipts: z.array(receiptSchema),
  backpressure: backpressureHintSchema.optional(),
})
export type PublishBatchResponse = z.infer<typeof publishBatchResponseSchema>

/** A publish that waits: stored now, written to the log (and so delivered) at `deliverAt` or after `delayMs`. */
export const schedulePublishSchema = z
  .strictObject({
    event: publishEventSchema,
    deliverAt: z.iso.datetime({ offset: true, message: ISO_WITH_ZONE }).optional(),
    delayMs: z
      .number()
      .int()
      .min(0)
      .max(366 * 86_400_000)
      .optional(),
  })
  .refine((s) => (s.deliverAt === undefined) !== (s.delayMs === undefined), {
    message: 'give exactly one of deliverAt or delayMs',
    path: ['deliverAt'],
  })

export type SchedulePublish = z.infer<typeof schedulePublishSchema>
