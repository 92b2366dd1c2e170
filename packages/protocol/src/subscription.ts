import { z } from 'zod'
import { headersSchema } from './envelope'
import { subjectPatternError } from './subject'
import { parseTimeParam } from './time'

const pattern = (what: string) =>
  z.string().superRefine((v, ctx) => {
    const problem = subjectPatternError(v)
    if (problem) ctx.addIssue({ code: 'custom', message: `${what}: ${problem}` })
  })

export const subscriptionNameSchema = z
  .string()
  .min(1, 'name is empty')
  .max(200, 'names are at most 200 characters')
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "use letters, digits, '_' and '-', separated by dots")

const timeString = z.string().refine((v) => parseTimeParam(v) !== null, {
  message: "use ISO-8601, epoch milliseconds, or a span ago such as '15m'",
})

/** Where a subscription starts, or is reset to. */
export const startPositionSchema = z.union([
  z.literal('earliest'),
  z.literal('latest'),
  z.strictObject({ offset: z.number().int().min(0) }),
  z.strictObject({ time: timeString }),
])

export type StartPosition = z.infer<typeof startPositionSchema>

export const SUBSCRIPTION_DEFAULTS = {
  ackWaitMs: 30_000,
  maxDeliveries: 5,
  backoffMs: [1000, 5000, 30_000],
  sessionTimeoutMs: 10_000,
} as const

/**
 * Headers that frame or route the request (RFC 9110 §7.6.1 hop-by-hop ones, `host`, the body's
 * framing): set by the broker alone, so a subscription cannot aim its requests at another virtual
 * host or smuggle a second request into the connection.
 */
export const RESERVED_WEBHOOK_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'expect',
  // the broker's own: the same on every resend of a batch, so a receiver can drop repeats
  'idempotency-key',
])

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// what HTTP/1.1 carries in a field value: tab, visible ASCII, space and obs-text; never CR, LF or NUL
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
const MAX_WEBHOOK_HEADERS = 32

const webhookHeadersSchema = z
  .record(z.string(), z.string().max(8192, 'header values are at most 8192 characters'))
  .superRefine((headers, ctx) => {
    const names = Object.keys(headers)
    if (names.length > MAX_WEBHOOK_HEADERS)
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_WEBHOOK_HEADERS} headers` })
    for (const name of names) {
      if (!HEADER_NAME.test(name) || name.length > 256)
        ctx.addIssue({ code: 'custom', path: [name], message: `'${name}' is not an HTTP header name` })
      else if (RESERVED_WEBHOOK_HEADERS.has(name.toLowerCase()))
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `'${name}' is set by the broker, not by a subscription`,
        })
      else if (!HEADER_VALUE.test(headers[name]!))
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'a header value holds no control characters (CR, LF, NUL) and no characters above U+00FF',
        })
    }
  })

/** Push delivery: the broker POSTs the subscription's events to an HTTP endpoint instead of waiting for pulls. */
export const webhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, message: 'an http(s) URL' }),
  /** 1 sends each event alone (the body is the envelope); more sends `{"events":[…]}`. */
  batchSize: z.number().int().min(1).max(1000).default(1),
  /** Most events per second sent to the endpoint. */
  maxEventsPerSecond: z.number().int().min(1).max(100_000).optional(),
  timeoutMs: z.number().int().min(100).max(60_000).default(5000),
  /** Delay before each retry of a failed request (the last value repeats). */
  retryBackoffMs: z.array(z.number().int().min(0).max(600_000)).min(1).max(20).default([500, 2000, 10_000]),
  /** Consecutive failures that open the circuit breaker. */
  failureThreshold: z.number().int().min(1).max(1000).default(5),
  /** How long an open breaker waits before one trial request (half-open). */
  openMs: z.number().int().min(100).max(3_600_000).default(30_000),
  /** Sent with every request; framing and hop-by-hop headers (`RESERVED_WEBHOOK_HEADERS`) are refused. */
  headers: webhookHeadersSchema.optional(),
})

export type Webhook = z.output<typeof webhookSchema>

export const createSubscriptionSchema = z.strictObject({
  name: subscriptionNameSchema,
  /** A topic name or a pattern over topic names (`game.*`, `game.>`). */
  topic: pattern('topic'),
  /** `stream`: a consumer group, partitions divided among members, ordered. `queue`: any member, per-event acks. */
  mode: z.enum(['stream', 'queue']).default('stream'),
  /** Only events whose type matches this subject pattern. */
  typeFilter: pattern('typeFilter').optional(),
  from: startPositionSchema.default('latest'),
  /**
   * Queue mode: `key` hands out the events of one key (per topic partition) one at a time, in offset
   * order, the next only once the one before is acked, dead-lettered or gone from the log; different
   * keys go to all members in parallel. Events without a key are ordered with nothing. `none`: any order.
   */
  ordering: z.enum(['none', 'key']).default('none'),
  /** Queue mode: how long a delivery waits for its ack before it is redelivered. */
  ackWaitMs: z.number().int().min(100).max(3_600_000).default(SUBSCRIPTION_DEFAULTS.ackWaitMs),
  /** Queue mode: deliveries before an event goes to the dead letters. */
  maxDeliveries: z.number().int().min(1).max(1000).default(SUBSCRIPTION_DEFAULTS.maxDeliveries),
  /** Queue mode: delay before each redelivery after a nak or a missed ack (the last value repeats). */
  backoffMs: z
    .array(z.number().int().min(0).max(3_600_000))
    .min(1)
    .max(20)
    .default([...SUBSCRIPTION_DEFAULTS.backoffMs]),
  /** Stream mode: a member that has not pulled for this long leaves the group. */
  sessionTimeoutMs: z.number().int().min(500).max(300_000).default(SUBSCRIPTION_DEFAULTS.sessionTimeoutMs),
  /** Push to an HTTP endpoint; the subscription then works as a consumer group whose members are the brokers. */
  webhook: webhookSchema.optional(),
})

export type CreateSubscriptionInput = z.input<typeof createSubscriptionSchema>
export type CreateSubscription = z.output<typeof createSubscriptionSchema>

export const pullRequestSchema = z.strictObject({
  /** Who pulls: a stable id per consumer process. */
  member: z.string().min(1).max(200),
  max: z.number().int().min(1).max(1000).default(100),
  /** Long poll: wait up to this long for events when none are ready. */
  waitMs: z.number().int().min(0).max(30_000).default(0),
})

export const ackRequestSchema = z.strictObject({
  tokens: z.array(z.string().min(1).max(2000)).min(1).max(1000),
})

export const nakRequestSchema = z.strictObject({
  token: z.string().min(1).max(2000),
  /** Redeliver after this long; without it the subscription's backoff applies. */
  delayMs: z.number().int().min(0).max(86_400_000).optional(),
})

export const termRequestSchema = z.strictObject({
  token: z.string().min(1).max(2000),
  reason: z.string().max(1000).default('terminated by consumer'),
})

export const resetRequestSchema = z.strictObject({ to: startPositionSchema })

export const redriveRequestSchema = z.union([
  z.strictObject({ ids: z.array(z.number().int().min(1)).min(1).max(10_000) }),
  z.strictObject({ all: z.literal(true) }),
])

export const replayFilterSchema = z.strictObject({
  type: pattern('type').optional(),
  key: z.string().max(512).optional(),
  /** Every listed header must be present with this value. */
  headers: headersSchema.optional(),
})

export const createReplaySchema = z
  .strictObject({
    topic: z.string().min(1).max(200),
    /** Offset range, inclusive `fromOffset`, exclusive `toOffset`, on every partition (or `partition`). */
    fromOffset: z.number().int().min(0).optional(),
    toOffset: z.number().int().min(0).optional(),
    partition: z.number().int().min(0).optional(),
    /** Time range: `since` inclusive, `until` exclusive. */
    since: timeString.optional(),
    until: timeString.optional(),
    filter: replayFilterSchema.default({}),
    /** Pace of the replay, so it does not crowd out live traffic; unlimited when absent. */
    maxEventsPerSecond: z.number().int().min(1).max(1_000_000).optional(),
    /** Where the events go: a queue subscription (created when missing) or another topic. */
    target: z.union([
      z.strictObject({ subscription: subscriptionNameSchema }),
      z.strictObject({ topic: z.string().min(1).max(200) }),
    ]),
  })
  .superRefine((r, ctx) => {
    const byOffset = r.fromOffset !== undefined || r.toOffset !== undefined
    const byTime = r.since !== undefined || r.until !== undefined
    if (byOffset && byTime)
      ctx.addIssue({
        code: 'custom',
        path: ['since'],
        message: 'give an offset range or a time range, not both',
      })
    if (!byOffset && !byTime)
      ctx.addIssue({
        code: 'custom',
        path: ['since'],
        message: 'give an offset range (fromOffset/toOffset) or a time range (since/until)',
      })
    if (r.fromOffset !== undefined && r.toOffset !== undefined && r.toOffset < r.fromOffset) {
      ctx.addIssue({ code: 'custom', path: ['toOffset'], message: 'toOffset is before fromOffset' })
    }
    if (r.since !== undefined && r.until !== undefined) {
      const s = parseTimeParam(r.since)
      const u = parseTimeParam(r.until)
      if (s && u && u.getTime() < s.getTime())
        ctx.addIssue({ code: 'custom', path: ['until'], message: 'until is before since' })
    }
  })

export type CreateReplay = z.output<typeof createReplaySchema>

export const REPLAY_STATUSES = ['pending', 'running', 'done', 'failed', 'cancelled'] as const
export type ReplayStatus = (typeof REPLAY_STATUSES)[number]
