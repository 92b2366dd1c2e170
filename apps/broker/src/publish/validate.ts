import { isUtf8 } from 'node:buffer'
import {
  EVENT_TIME_MAX_AHEAD_MS,
  isJsonContentType,
  MAX_JSON_DEPTH,
  nestsDeeperThan,
  newEventId,
  PayloadTooLargeError,
  type PublishEvent,
  singleLineJson,
  textProblem,
  ValidationError,
  type ValidationIssue,
} from '@questlog/protocol'
import type { NewEvent } from '../storage/event-store'

export interface PreparedEvent extends NewEvent {
  /** Explicit partition, if the publisher chose one. */
  partition?: number | undefined
}

/**
 * A publish event as it arrived: parsed from JSON (`data`), with its payload's
 * text kept as sent (`dataJson`, checked by the parser to be one JSON value),
 * or, for an event copied from the log (a replay, a dead letter), with its
 * payload's bytes (`dataBytes`).
 */
export type WireEvent = PublishEvent & {
  dataJson?: string | undefined
  dataBytes?: Buffer | undefined
  /** A copied event's payload as the log holds it, sealed, with the id of its key: stored as it is. */
  sealed?: { data: Buffer; encKey: string } | undefined
}

export interface ValidateContext {
  topic: { name: string; partitions: number; maxEventBytes: number }
  /** `source` of events that do not name one. */
  defaultSource: string
}

/** Notes a text field that PostgreSQL could not store or a reader not read back. */
function checkText(issues: ValidationIssue[], path: string, value: string | undefined): void {
  if (value === undefined) return
  const problem = textProblem(value)
  if (problem) issues.push({ path, message: problem })
}

// a media type is printable text: it may be copied into a protocol header (a webhook's, a CloudEvent's)
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f]/

/**
 * The payload as the log stores it: JSON text for a JSON content type (checked
 * to be JSON, whatever form it came in, and on one line, so that no reader's
 * framing can be broken by it), bytes for anything else.
 */
function payload(
  e: WireEvent,
  contentType: string,
  at: (field: string) => string,
  issues: ValidationIssue[],
): { dataJson?: string; data?: Buffer } {
  if (e.dataJson !== undefined) return { dataJson: singleLineJson(e.dataJson) }
  if (e.data !== undefined) {
    // before JSON.stringify, which recurses (the parse steps bound it too, to protect the schema's own walk)
    if (nestsDeeperThan(e.data, MAX_JSON_DEPTH)) {
      issues.push({ path: at('data'), message: `nested deeper than ${MAX_JSON_DEPTH} levels` })
      return {}
    }
    return { dataJson: JSON.stringify(e.data) }
  }
  const field = e.dataBytes ? 'data' : 'dataBase64'
  const bytes = e.dataBytes ?? Buffer.from(e.dataBase64 ?? '', 'base64')
  if (!isJsonContentType(contentType)) return { data: bytes }
  if (bytes.length === 0) return { dataJson: 'null' }
  const says = `contentType '${contentType}' says JSON, but the payload`
  if (!isUtf8(bytes)) {
    issues.push({ path: at(field), message: `${says} is not UTF-8 text` })
    return {}
  }
  const text = bytes.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    issues.push({ path: at(field), message: `${says} is not valid JSON: ${(err as Error).message}` })
    return {}
  }
  if (nestsDeeperThan(value, MAX_JSON_DEPTH)) {
    issues.push({ path: at(field), message: `nested deeper than ${MAX_JSON_DEPTH} levels` })
    return {}
  }
  return { dataJson: singleLineJson(text) }
}

/**
 * The validate step of the publish pipeline: turns an event that passed the
 * publish schema into what the log stores, or refuses it with the path of
 * each field at fault. Every text field is checked to be storable (no NUL, no
 * lone surrogate), the payload to be what its content type says, and the
 * event's size — payload and headers — against the topic's limit.
 */
export function validateEvent(e: WireEvent, index: number | null, ctx: ValidateContext): PreparedEvent {
  const at = (field: string) => (index === null ? field : `events.${index}.${field}`)
  const issues: ValidationIssue[] = []
  checkText(issues, at('id'), e.id)
  checkText(issues, at('source'), e.source)
  checkText(issues, at('key'), e.key)
  checkText(issues, at('dedupeKey'), e.dedupeKey)
  checkText(issues, at('producer'), e.producer)
  if (e.contentType !== undefined && CONTROL.test(e.contentType))
    issues.push({ path: at('contentType'), message: 'a media type holds no control characters' })
  else checkText(issues, at('contentType'), e.contentType)
  let headersJson: string | null = null
  if (e.headers) {
    let any = false
    for (const name in e.headers) {
      any = true
      checkText(issues, at(`headers.${name}`), name)
      checkText(issues, at(`headers.${name}`), e.headers[name])
    }
    if (any) headersJson = JSON.stringify(e.headers)
  }
  const eventTime = e.time === undefined ? null : new Date(e.time)
  if (eventTime && eventTime.getTime() > Date.now() + EVENT_TIME_MAX_AHEAD_MS) {
    issues.push({
      path: at('time'),
      message: `an event time is at most ${EVENT_TIME_MAX_AHEAD_MS / 60_000} minutes ahead of the broker's clock`,
    })
  }
  if (e.partition !== undefined && e.partition >= ctx.topic.partitions) {
    issues.push({
      path: at('partition'),
      message: `topic '${ctx.topic.name}' has partitions 0..${ctx.topic.partitions - 1}`,
    })
  }
  const contentType =
    e.contentType ??
    (e.dataBase64 !== undefined || e.dataBytes ? 'application/octet-stream' : 'application/json')
  const { dataJson, data } = payload(e, contentType, at, issues)
  if (issues.length > 0) throw new ValidationError(issues)

  const payloadBytes = data ? data.length : Buffer.byteLength(dataJson!, 'utf8')
  // headers are part of what an event weighs: without them, one event could carry megabytes past the limit
  const size = payloadBytes + (headersJson === null ? 0 : Buffer.byteLength(headersJson, 'utf8'))
  if (size > ctx.topic.maxEventBytes) {
    const path = at(payloadBytes >= size - payloadBytes ? 'data' : 'headers')
    const what = index === null ? 'the event' : `events.${index}`
    throw new PayloadTooLargeError(
      `${what} is ${size} bytes with its headers; topic '${ctx.topic.name}' accepts at most ${ctx.topic.maxEventBytes}`,
      size,
      ctx.topic.maxEventBytes,
      { path, topic: ctx.topic.name },
    )
  }
  const prepared: PreparedEvent = {
    id: e.id ?? newEventId(),
    type: e.type ?? ctx.topic.name,
    source: e.source ?? ctx.defaultSource,
    key: e.key ?? null,
    dedupeKey: e.dedupeKey ?? null,
    contentType,
    headersJson,
    size,
    partition: e.partition,
  }
  if (eventTime) prepared.eventTime = eventTime
  if (e.producer !== undefined) {
    prepared.producer = e.producer
    prepared.seq = e.seq
  }
  if (data) prepared.data = data
  else prepared.dataJson = dataJson
  if (e.sealed) {
    prepared.storedData = e.sealed.data
    prepared.encKey = e.sealed.encKey
  }
  return prepared
}
