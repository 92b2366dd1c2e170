import { z } from 'zod'

/** int64 offsets travel as decimal strings on JSON wires. */
export const offsetSchema = z.string().regex(/^\d{1,19}$/, 'must be a non-negative integer in decimal')

export const headersSchema = z.record(
  z.string().min(1).max(256),
  z.string().max(8192, 'header values are at most 8192 characters'),
)

/** The stored event as every reader sees it (CloudEvents-aligned). */
export const envelopeSchema = z.object({
  /** UUIDv7, assigned by the broker unless the publisher (e.g. a CloudEvent) set one. */
  id: z.string(),
  topic: z.string(),
  partition: z.number().int().nonnegative(),
  offset: offsetSchema,
  /** Dotted subject, e.g. `game.match.end`. */
  type: z.string(),
  source: z.string(),
  /** Broker commit time, ISO-8601 (Kafka's LogAppendTime). */
  time: z.string(),
  /** The producer's event time (publish `time`, CloudEvents `time`), ISO-8601; present only when set. */
  eventTime: z.string().optional(),
  key: z.string().nullable(),
  dedupeKey: z.string().nullable(),
  contentType: z.string(),
  headers: z.record(z.string(), z.string()),
  /** The payload when `contentType` is JSON. */
  data: z.unknown().optional(),
  /** The payload bytes, base64, for any other content type. */
  dataBase64: z.string().optional(),
})

export type Envelope = z.infer<typeof envelopeSchema>
export type TypedEnvelope<T> = Omit<Envelope, 'data'> & { data: T }

export function isJsonContentType(contentType: string): boolean {
  const base = contentType.split(';')[0]?.trim().toLowerCase() ?? ''
  return base === 'application/json' || base.endsWith('+json') || base === 'text/json'
}
