import type { z } from 'zod'

/**
 * Every error Questlog reports, with the HTTP status it travels under.
 * The WebSocket and tRPC transports carry the same codes.
 */
export const ERROR_CODES = {
  validation_error: { status: 400 },
  bad_request: { status: 400 },
  unauthorized: { status: 401 },
  forbidden: { status: 403 },
  not_found: { status: 404 },
  topic_not_found: { status: 404 },
  subscription_not_found: { status: 404 },
  delivery_not_found: { status: 404 },
  conflict: { status: 409 },
  topic_exists: { status: 409 },
  subscription_exists: { status: 409 },
  attempt_expired: { status: 409 },
  out_of_order: { status: 409 },
  payload_too_large: { status: 413 },
  unsupported_media_type: { status: 415 },
  backpressure: { status: 429 },
  rate_limited: { status: 429 },
  quota_exceeded: { status: 429 },
  /** A stream reader took nothing for too long and was let go; it resumes from its position by reconnecting. */
  slow_consumer: { status: 429 },
  internal: { status: 500 },
  not_ready: { status: 503 },
  unavailable: { status: 503 },
  no_responders: { status: 503 },
  timeout: { status: 504 },
} as const

export type ErrorCode = keyof typeof ERROR_CODES

/** Codes a client may retry unchanged after waiting. */
export const RETRYABLE_CODES: readonly ErrorCode[] = [
  'backpressure',
  'out_of_order',
  'rate_limited',
  'slow_consumer',
  'not_ready',
  'unavailable',
  'timeout',
  'internal',
]

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value)
}

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status
}

export function isRetryable(code: ErrorCode): boolean {
  return RETRYABLE_CODES.includes(code)
}

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> }
}

export interface ValidationIssue {
  /** Dotted path of the offending field, e.g. `events.3.data`; empty for the whole body. */
  path: string
  message: string
}

// A brand instead of `instanceof`: an application may bundle two copies of an SDK.
const BRAND = Symbol.for('questlog.error')

export interface QuestlogErrorOptions {
  details?: Record<string, unknown>
  cause?: unknown
}

export class QuestlogError extends Error {
  readonly [BRAND] = true
  readonly code: ErrorCode
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message: string, options: QuestlogErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'QuestlogError'
    this.code = code
    this.details = options.details
  }

  get status(): number {
    return statusOf(this.code)
  }

  get retryable(): boolean {
    return isRetryable(this.code)
  }

  toJSON(): ErrorBody {
    const error: ErrorBody['error'] = { code: this.code, message: this.message }
    if (this.details !== undefined) error.details = this.details
    return { error }
  }
}

export function isQuestlogError(e: unknown): e is QuestlogError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true
}

export class ValidationError extends QuestlogError {
  readonly issues: ValidationIssue[]
  constructor(issues: ValidationIssue[], options: Omit<QuestlogErrorOptions, 'details'> = {}) {
    const first = issues[0]
    const message = first
      ? `${first.path === '' ? 'request' : first.path}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`
      : 'invalid request'
    super('validation_error', message, { ...options, details: { issues } })
    this.name = 'ValidationError'
    this.issues = issues
  }
}

export class BadRequestError extends QuestlogError {
  constructor(message: string, options: QuestlogErrorOptions = {}) {
    super('bad_request', message, options)
    this.name = 'BadRequestError'
  }
}

export class TopicNotFoundError extends QuestlogError {
  readonly topic: string
  constructor(topic: string) {
    super('topic_not_found', `topic '${topic}' does not exist`, { details: { topic } })
    this.name = 'TopicNotFoundError'
    this.topic = topic
  }
}

export class NotFoundError extends QuestlogError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('not_found', message, details ? { details } : {})
    this.name = 'NotFoundError'
  }
}

export class TopicExistsError extends QuestlogError {
  readonly topic: string
  constructor(topic: string) {
    super('topic_exists', `topic '${topic}' already exists`, { details: { topic } })
    this.name = 'TopicExistsError'
    this.topic = topic
  }
}

export class SubscriptionNotFoundError extends QuestlogError {
  readonly subscription: string
  constructor(subscription: string) {
    super('subscription_not_found', `subscription '${subscription}' does not exist`, {
      details: { subscription },
    })
    this.name = 'SubscriptionNotFoundError'
    this.subscription = subscription
  }
}

export class SubscriptionExistsError extends QuestlogError {
  readonly subscription: string
  constructor(subscription: string) {
    super('subscription_exists', `subscription '${subscription}' already exists`, {
      details: { subscription },
    })
    this.name = 'SubscriptionExistsError'
    this.subscription = subscription
  }
}

/** An ack or nak from a delivery attempt whose ack wait ran out (the event was or will be redelivered). */
export class AttemptExpiredError extends QuestlogError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('attempt_expired', message, { details })
    this.name = 'AttemptExpiredError'
  }
}

/** An ack or nak naming a delivery that does not exist (already settled, or never delivered to this caller). */
export class DeliveryNotFoundError extends QuestlogError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('delivery_not_found', message, { details })
    this.name = 'DeliveryNotFoundError'
  }
}

export class ConflictError extends QuestlogError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('conflict', message, details ? { details } : {})
    this.name = 'ConflictError'
  }
}

export class PayloadTooLargeError extends QuestlogError {
  readonly limit: number
  readonly size: number
  constructor(message: string, size: number, limit: number, details: Record<string, unknown> = {}) {
    super('payload_too_large', message, { details: { ...details, size, limit } })
    this.name = 'PayloadTooLargeError'
    this.size = size
    this.limit = limit
  }
}

/** A key holds as many of something (topics, connections, …) as its quota allows: not retryable as it is. */
export class QuotaExceededError extends QuestlogError {
  readonly quota: string
  readonly limit: number
  constructor(message: string, quota: string, limit: number) {
    super('quota_exceeded', message, { details: { quota, limit } })
    this.name = 'QuotaExceededError'
    this.quota = quota
    this.limit = limit
  }
}

export class BackpressureError extends QuestlogError {
  readonly retryAfterMs: number
  constructor(message: string, retryAfterMs: number, details: Record<string, unknown> = {}) {
    super('backpressure', message, { details: { ...details, retryAfterMs } })
    this.name = 'BackpressureError'
    this.retryAfterMs = retryAfterMs
  }
}

export class AuthError extends QuestlogError {
  constructor(message = 'missing or invalid credentials') {
    super('unauthorized', message)
    this.name = 'AuthError'
  }
}

export class ForbiddenError extends QuestlogError {
  constructor(message = 'not allowed') {
    super('forbidden', message)
    this.name = 'ForbiddenError'
  }
}

export class NotReadyError extends QuestlogError {
  constructor(message = 'broker is not ready', options: QuestlogErrorOptions = {}) {
    super('not_ready', message, options)
    this.name = 'NotReadyError'
  }
}

export class UnavailableError extends QuestlogError {
  constructor(message: string, options: QuestlogErrorOptions = {}) {
    super('unavailable', message, options)
    this.name = 'UnavailableError'
  }
}

export class TimeoutError extends QuestlogError {
  readonly timeoutMs: number
  constructor(message: string, timeoutMs: number) {
    super('timeout', message, { details: { timeoutMs } })
    this.name = 'TimeoutError'
    this.timeoutMs = timeoutMs
  }
}

export class NoRespondersError extends QuestlogError {
  readonly subject: string
  constructor(subject: string) {
    super('no_responders', `no responders for '${subject}'`, { details: { subject } })
    this.name = 'NoRespondersError'
    this.subject = subject
  }
}

export class InternalError extends QuestlogError {
  constructor(message = 'internal error', options: QuestlogErrorOptions = {}) {
    super('internal', message, options)
    this.name = 'InternalError'
  }
}

/** Dotted path of a zod issue: `events.3.data`. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.')
}

/** Converts a zod failure into a ValidationError naming each field. */
export function validationErrorFromZod(error: z.ZodError, prefix = ''): ValidationError {
  const issues = error.issues.map((issue) => {
    const path = issuePath(issue.path)
    return { path: prefix && path ? `${prefix}.${path}` : prefix || path, message: issue.message }
  })
  return new ValidationError(issues, { cause: error })
}

/** Rebuilds a typed error from a wire `{error:{code,message,details}}` body. */
export function errorFromBody(body: unknown, fallbackStatus?: number): QuestlogError {
  const err = (body as Partial<ErrorBody> | undefined)?.error
  if (!err || !isErrorCode(err.code)) {
    const code: ErrorCode =
      fallbackStatus === 429 ? 'backpressure' : fallbackStatus === 503 ? 'unavailable' : 'internal'
    return new QuestlogError(code, `unexpected response${fallbackStatus ? ` (HTTP ${fallbackStatus})` : ''}`)
  }
  const details = err.details ?? {}
  switch (err.code) {
    case 'validation_error': {
      const issues = Array.isArray(details.issues) ? (details.issues as ValidationIssue[]) : []
      const e = new ValidationError(issues.length ? issues : [{ path: '', message: err.message }])
      return e
    }
    case 'topic_not_found':
      return new TopicNotFoundError(String(details.topic ?? ''))
    case 'topic_exists':
      return new TopicExistsError(String(details.topic ?? ''))
    case 'payload_too_large':
      return new PayloadTooLargeError(
        err.message,
        Number(details.size ?? 0),
        Number(details.limit ?? 0),
        details,
      )
    case 'backpressure':
    case 'rate_limited':
      return new BackpressureError(err.message, Number(details.retryAfterMs ?? 1000), details)
    case 'quota_exceeded':
      return new QuotaExceededError(err.message, String(details.quota ?? ''), Number(details.limit ?? 0))
    case 'unauthorized':
      return new AuthError(err.message)
    case 'forbidden':
      return new ForbiddenError(err.message)
    case 'not_ready':
      return new NotReadyError(err.message)
    case 'timeout':
      return new TimeoutError(err.message, Number(details.timeoutMs ?? 0))
    case 'no_responders':
      return new NoRespondersError(String(details.subject ?? ''))
    case 'subscription_not_found':
      return new SubscriptionNotFoundError(String(details.subscription ?? ''))
    case 'subscription_exists':
      return new SubscriptionExistsError(String(details.subscription ?? ''))
    case 'attempt_expired':
      return new AttemptExpiredError(err.message, details)
    case 'delivery_not_found':
      return new DeliveryNotFoundError(err.message, details)
    default:
      return new QuestlogError(err.code, err.message, { details })
  }
}
