import { z } from 'zod'
import { brokerInfoSchema } from './brokers'
import { envelopeSchema, offsetSchema } from './envelope'
import { ERROR_CODES, type ErrorCode } from './errors'
import {
  presenceDeltaFrameSchema,
  presenceFrameSchema,
  presenceSnapshotFrameSchema,
  presenceWatchFrameSchema,
} from './presence'
import { backpressureHintSchema, publishEventSchema, receiptSchema } from './publish'
import { isValidSubject, subjectPatternError } from './subject'
import { subscriptionNameSchema } from './subscription'
import { parseTimeParam } from './time'
import { topicNameSchema } from './topic'

/**
 * WebSocket frames of `GET /v1/ws`: one JSON object per message, told apart by `op`.
 * A client opens with `hello`; the broker answers `welcome`, or `error` + `close`
 * when it does not speak the client's protocol version.
 */

/** Client-chosen id that ties an answer (`receipts`, `ok`, `error`) to its request. */
const requestId = z.number().int().nonnegative()
/** Client-chosen id of one subscription on this connection. */
const subscriptionId = z.string().min(1).max(64)
const errorCode = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]])

const typePattern = z.string().superRefine((v, ctx) => {
  const problem = subjectPatternError(v)
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

/** An exact subject (no wildcards): what a request is addressed to. */
const exactSubject = z
  .string()
  .refine((v) => isValidSubject(v), 'use dot-separated tokens of letters, digits, _, - and :, no wildcards')
/** Broker-assigned id of one routed request; a reply must name it. */
const correlationId = z.number().int().nonnegative()
/** Client-chosen id of one responder registration on this connection. */
const responderId = z.string().min(1).max(64)
const headersSchema = z.record(z.string(), z.string())

// ---- client → broker ----

export const helloFrameSchema = z.strictObject({
  op: z.literal('hello'),
  /** Protocol version the client speaks. */
  v: z.number().int().positive(),
  /** API key, when the broker requires one. */
  token: z.string().max(4096).optional(),
  /** Free-form client name and version, for logs. */
  client: z.string().max(200).optional(),
})

export const publishFrameSchema = z.strictObject({
  op: z.literal('publish'),
  id: requestId,
  topic: topicNameSchema,
  events: z.array(publishEventSchema).min(1).max(10_000),
  /**
   * For clients with several publishes in flight: once a publish of this epoch
   * or an older one fails, the broker refuses every later publish of this
   * connection that carries such an epoch (`out_of_order`, retryable), so none
   * is stored ahead of the one that failed. The client resends them, in order,
   * under a newer epoch.
   */
  epoch: z.number().int().min(0).optional(),
  /**
   * `runs`: answer with `runs` instead of one receipt per event, for a client
   * that named every event (`id`) and so knows the receipts but their offsets.
   */
  receipts: z.enum(['full', 'runs']).optional(),
})

/**
 * A publish in columns, sent as one binary message: this header as one line of
 * JSON, a newline (byte 10), then the payloads as one JSON array (UTF-8), one
 * element per event. The broker keeps each payload's text as sent instead of
 * parsing and re-serializing it. Each column, when given, holds one entry per
 * payload; a `key` of null means none. Only brokers whose `welcome` lists
 * `publish-columns` in `features` take it; events with other fields (`type`,
 * `headers`, a `dedupeKey`, …) go in a `publish` frame.
 */
export const publishColumnsHeaderSchema = z.strictObject({
  op: z.literal('publish'),
  id: requestId,
  topic: topicNameSchema,
  epoch: z.number().int().min(0).optional(),
  receipts: z.enum(['full', 'runs']).optional(),
  /** The idempotent producer of every event, with `seqs`. */
  producer: z.string().min(1).max(128).optional(),
  seqs: z.array(z.number().int().min(0)).optional(),
  ids: z.array(z.string().min(1).max(256)).optional(),
  keys: z.array(z.string().min(1).max(512).nullable()).optional(),
})

export type PublishColumnsHeader = z.infer<typeof publishColumnsHeaderSchema>

/** What a broker takes besides protocol version 1, listed in `welcome.features`. */
export const BROKER_FEATURES = ['publish-columns'] as const

/** Where a subscription without a resume cursor or committed group offsets starts. */
export const subscribeFromSchema = z.union([
  z.enum(['earliest', 'latest']),
  z.strictObject({ offset: offsetSchema }),
  z.strictObject({
    time: z.string().refine((v) => parseTimeParam(v) !== null, 'use ISO-8601, epoch ms, or a span like 1h'),
  }),
])

export type SubscribeFrom = z.infer<typeof subscribeFromSchema>

export const subscribeFrameSchema = z.strictObject({
  op: z.literal('subscribe'),
  sid: subscriptionId,
  /** The topic to read; optional only with `subscription`, which names its own topics. */
  topic: topicNameSchema.optional(),
  /**
   * Consume an existing named subscription with its queue or stream semantics: each
   * event carries a `token` that `ack`/`nak`/`term` name. The broker places the
   * connection as one member; `from`, `cursor`, `group`, `partition`, `type` and `key` do not apply.
   */
  subscription: subscriptionNameSchema.optional(),
  /**
   * With `subscription`: the ordering the consumer relies on; the subscribe fails with `conflict`
   * when the named subscription was created with another (`key`: one event of a key at a time).
   */
  ordering: z.enum(['none', 'key']).optional(),
  /**
   * Consumer group: the topic's partitions are divided among the group's live members, on any
   * broker; acked positions are stored and a member taking a partition over resumes there.
   */
  group: z.string().min(1).max(200).optional(),
  /** This consumer's id in its group, kept across reconnects: under the same id it takes its partitions back at once. */
  member: z.string().min(1).max(64).optional(),
  /** A group member silent this long is gone and its partitions move (default 10 000). */
  sessionTimeoutMs: z.number().int().min(1000).max(300_000).optional(),
  from: subscribeFromSchema.optional(),
  /** Opaque cursor of an event received earlier: resume right after it. Wins over `from` and the group. */
  cursor: z.string().max(8192).optional(),
  /** Read one partition only. */
  partition: z.number().int().nonnegative().optional(),
  /** Only events whose type matches this subject pattern (`game.*`). */
  type: typePattern.optional(),
  /** Only events with this partition key. */
  key: z.string().max(512).optional(),
  /** Most un-acked events the broker may have outstanding on this subscription. */
  credits: z.number().int().min(1).max(100_000).optional(),
})

export const unsubscribeFrameSchema = z.strictObject({ op: z.literal('unsubscribe'), sid: subscriptionId })

/** One delivered event: its partition and offset. */
export const eventRefSchema = z.tuple([z.number().int().nonnegative(), offsetSchema])

/** Delivery token of an event from a named subscription. */
const deliveryToken = z.string().min(1).max(512)

export const ackFrameSchema = z.strictObject({
  op: z.literal('ack'),
  sid: subscriptionId,
  /** Events processed, as `[partition, offset]` pairs. */
  acks: z.array(eventRefSchema).min(1).max(100_000).optional(),
  /** Events of a named subscription processed, by their delivery tokens. */
  tokens: z.array(deliveryToken).min(1).max(10_000).optional(),
  /** When set, the broker answers `ok` with this id once the acks are durable. */
  id: requestId.optional(),
})

export const nakFrameSchema = z.strictObject({
  op: z.literal('nak'),
  sid: subscriptionId,
  partition: z.number().int().nonnegative().optional(),
  offset: offsetSchema.optional(),
  /** A named subscription's event, by its delivery token (instead of partition and offset). */
  token: deliveryToken.optional(),
  /** Redeliver after this pause; a named subscription uses its backoff when absent. */
  delayMs: z.number().int().min(0).max(3_600_000).optional(),
  /** When set, the broker answers `ok` or `error` with this id. */
  id: requestId.optional(),
})

/** Client → broker: dead-letter a named subscription's event at once. */
export const termFrameSchema = z.strictObject({
  op: z.literal('term'),
  sid: subscriptionId,
  token: deliveryToken,
  reason: z.string().max(500).optional(),
  id: requestId.optional(),
})

/** Client → broker: change a subscription's window of un-acked events. */
export const creditsFrameSchema = z.strictObject({
  op: z.literal('credits'),
  sid: subscriptionId,
  credits: z.number().int().min(1).max(100_000),
})

/** Client → broker: ask one responder of `subject`; answered by `reply`, or `error` (`no_responders`, `timeout`). */
export const requestFrameSchema = z.strictObject({
  op: z.literal('request'),
  id: requestId,
  subject: exactSubject,
  data: z.json().optional(),
  headers: headersSchema.optional(),
  /** The broker answers `timeout` when no reply arrived within this. */
  timeoutMs: z.number().int().min(1).max(300_000),
})

/** Client → broker: answer requests whose subject matches `subject` (a pattern); `ok` once registered. */
export const respondFrameSchema = z.strictObject({
  op: z.literal('respond'),
  id: requestId,
  rid: responderId,
  subject: typePattern,
})

/** Client → broker: stop receiving requests for a responder; requests it already holds may still be answered. */
export const unrespondFrameSchema = z.strictObject({ op: z.literal('unrespond'), rid: responderId })

/** A responder's failure, passed to the requester as a typed error. */
const replyErrorSchema = z.strictObject({
  code: errorCode,
  message: z.string().max(2000),
  details: z.record(z.string(), z.unknown()).optional(),
})

/** Client → broker: a responder answers the request it received as `to`. */
export const replyFrameSchema = z.strictObject({
  op: z.literal('reply'),
  /** Correlation id of the request frame the responder received. */
  to: correlationId,
  data: z.json().optional(),
  headers: headersSchema.optional(),
  error: replyErrorSchema.optional(),
  /** When set, a refused reply (not a request this connection holds) is answered by `error` with this id. */
  id: requestId.optional(),
})

export const pingFrameSchema = z.strictObject({ op: z.literal('ping'), t: z.number().optional() })
export const pongFrameSchema = z.strictObject({ op: z.literal('pong'), t: z.number().optional() })

export const closeFrameSchema = z.strictObject({
  op: z.literal('close'),
  /** `normal`, `going_away`, or an error code. */
  code: z.union([z.enum(['normal', 'going_away']), errorCode]),
  reason: z.string().max(500),
})

export const clientFrameSchema = z.discriminatedUnion('op', [
  helloFrameSchema,
  publishFrameSchema,
  subscribeFrameSchema,
  unsubscribeFrameSchema,
  ackFrameSchema,
  nakFrameSchema,
  termFrameSchema,
  creditsFrameSchema,
  requestFrameSchema,
  respondFrameSchema,
  unrespondFrameSchema,
  replyFrameSchema,
  presenceFrameSchema,
  presenceWatchFrameSchema,
  pingFrameSchema,
  pongFrameSchema,
  closeFrameSchema,
])

// ---- broker → client ----

export const welcomeFrameSchema = z.object({
  op: z.literal('welcome'),
  v: z.number().int(),
  brokerId: z.string(),
  /** Events the client may have in flight (sent, not yet receipted) on publishes. */
  publishCredits: z.number().int().positive(),
  /** Most events the broker writes in one group commit (a publish frame may carry up to 10,000). */
  maxBatchEvents: z.number().int().positive(),
  /** Optional parts of the protocol this broker takes (see `BROKER_FEATURES`); absent on older brokers. */
  features: z.array(z.string()).optional(),
  /** The cluster's live brokers, this one included; kept current by `brokers` frames. Absent on older brokers. */
  brokers: z.array(brokerInfoSchema).optional(),
})

/**
 * Broker → client: the live set of brokers changed (one joined, left or died, or one's status
 * or drain changed; changed health figures alone at most once every five heartbeats). Sent only
 * on a change, at most once per heartbeat interval; the whole set each time.
 */
export const brokersFrameSchema = z.object({
  op: z.literal('brokers'),
  brokers: z.array(brokerInfoSchema),
})

/**
 * Receipts as runs, in event order: `[partition, first offset, count]` stands
 * for that many events, each stored under the id it was sent with, at offsets
 * counting up from the first one (`duplicate: false`); any other receipt (a
 * duplicate, an event diverted as invalid) is written out whole.
 */
export const receiptRunsSchema = z.array(
  z.union([z.tuple([z.number().int().min(0), offsetSchema, z.number().int().positive()]), receiptSchema]),
)
export type ReceiptRuns = z.infer<typeof receiptRunsSchema>

export const receiptsFrameSchema = z.object({
  op: z.literal('receipts'),
  id: requestId,
  /** One per event, in order (unless the publish asked for `runs`). */
  receipts: z.array(receiptSchema).optional(),
  runs: receiptRunsSchema.optional(),
  /** Soft accept: everything was stored, but slow down. */
  backpressure: backpressureHintSchema.optional(),
})

export const subscribedFrameSchema = z.object({
  op: z.literal('subscribed'),
  sid: subscriptionId,
  /** Partitions this subscription reads, with the offset it starts from in each. */
  positions: z.record(z.string(), offsetSchema),
  /**
   * Opaque cursor of these start positions: a client that loses its connection before its first
   * event resumes here, on any broker, rather than at a `latest` that has moved on. Absent on
   * older brokers and for consumer groups.
   */
  cursor: z.string().optional(),
})

export const deliveredEventSchema = z.object({
  event: envelopeSchema,
  /** Opaque cursor that resumes right after this event; empty for a named subscription, which keeps its own position. */
  cursor: z.string(),
  /** How many times this event was delivered before (after a nak). */
  redelivery: z.number().int().optional(),
  /** A named subscription's delivery token, for `ack`/`nak`/`term`. */
  token: z.string().optional(),
})

export type DeliveredEvent = z.infer<typeof deliveredEventSchema>

export const eventsFrameSchema = z.object({
  op: z.literal('events'),
  sid: subscriptionId,
  events: z.array(deliveredEventSchema),
})

/** Broker → client: the window of in-flight publish events changed (lowered under back-pressure). */
export const publishCreditsFrameSchema = z.object({
  op: z.literal('credits'),
  publish: z.number().int().positive(),
})

export const okFrameSchema = z.object({ op: z.literal('ok'), id: requestId })

/** Broker → responder: one request to answer with a `reply` frame naming `to`. */
export const incomingRequestFrameSchema = z.object({
  op: z.literal('request'),
  rid: responderId,
  to: correlationId,
  subject: z.string(),
  data: z.json().optional(),
  headers: headersSchema.optional(),
  /** Time left before the requester gets a timeout; a reply after that is refused. */
  timeoutMs: z.number().int().nonnegative(),
})

/** Broker → requester: the answer to the `request` frame with this id. */
export const replyToRequesterFrameSchema = z.object({
  op: z.literal('reply'),
  id: requestId,
  data: z.json().optional(),
  headers: headersSchema.optional(),
})

export const errorFrameSchema = z.object({
  op: z.literal('error'),
  /** The request that failed, if any. */
  id: requestId.optional(),
  /** The subscription that ended, if any. */
  sid: subscriptionId.optional(),
  code: errorCode,
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
})

export const serverFrameSchema = z.discriminatedUnion('op', [
  welcomeFrameSchema,
  receiptsFrameSchema,
  subscribedFrameSchema,
  eventsFrameSchema,
  publishCreditsFrameSchema,
  okFrameSchema,
  incomingRequestFrameSchema,
  replyToRequesterFrameSchema,
  errorFrameSchema,
  brokersFrameSchema,
  presenceSnapshotFrameSchema,
  presenceDeltaFrameSchema,
  pingFrameSchema,
  pongFrameSchema,
  closeFrameSchema,
])

export type HelloFrame = z.infer<typeof helloFrameSchema>
export type PublishFrame = z.infer<typeof publishFrameSchema>
export type SubscribeFrame = z.infer<typeof subscribeFrameSchema>
export type AckFrame = z.infer<typeof ackFrameSchema>
export type NakFrame = z.infer<typeof nakFrameSchema>
export type TermFrame = z.infer<typeof termFrameSchema>
export type CreditsFrame = z.infer<typeof creditsFrameSchema>
export type CloseFrame = z.infer<typeof closeFrameSchema>
export type RequestFrame = z.infer<typeof requestFrameSchema>
export type RespondFrame = z.infer<typeof respondFrameSchema>
export type ReplyFrame = z.infer<typeof replyFrameSchema>
export type IncomingRequestFrame = z.infer<typeof incomingRequestFrameSchema>
export type ReplyToRequesterFrame = z.infer<typeof replyToRequesterFrameSchema>
export type ClientFrame = z.infer<typeof clientFrameSchema>
export type WelcomeFrame = z.infer<typeof welcomeFrameSchema>
export type BrokersFrame = z.infer<typeof brokersFrameSchema>
export type ReceiptsFrame = z.infer<typeof receiptsFrameSchema>
export type SubscribedFrame = z.infer<typeof subscribedFrameSchema>
export type EventsFrame = z.infer<typeof eventsFrameSchema>
export type ErrorFrame = z.infer<typeof errorFrameSchema>
export type ServerFrame = z.infer<typeof serverFrameSchema>
