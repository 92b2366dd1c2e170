import {
  BadRequestError,
  CLOUDEVENT_MEDIA_TYPE,
  CLOUDEVENTS_BATCH_MEDIA_TYPE,
  CLOUDEVENTS_CONTEXT,
  CLOUDEVENTS_TYPED_HEADER,
  eventTimeSchema,
  isCloudEventsExtensionName,
  isJsonContentType,
  type PublishEvent,
  textProblem,
  ValidationError,
} from '@questlog/protocol'
import type { ParsedBody } from './parse-body'

const REQUIRED = ['id', 'source', 'type'] as const
// CloudEvents' partitioning extension names the partition key `partitionkey`.
const PARTITION_KEY = 'partitionkey'

/** A CloudEvents HTTP request as the parse step needs it. */
export interface CloudEventsRequest {
  contentType: string | undefined
  headers: Record<string, string | string[] | undefined>
  body: unknown
}

/**
 * The parse step for CloudEvents 1.0 over HTTP (binary, structured and batch
 * content modes): each CloudEvent becomes a publish event. `time` becomes the
 * event time; extensions become headers, and those that are numbers or booleans
 * are named in the `ql-ce-typed` header so that a read as CloudEvents gives them
 * back typed; source + id become the dedupe key, as the spec lets consumers
 * treat a repeated source + id as a duplicate.
 */
export function parseCloudEvents(req: CloudEventsRequest): ParsedBody {
  const type = (req.contentType ?? '').split(';')[0]!.trim().toLowerCase()
  if (type === CLOUDEVENT_MEDIA_TYPE) return { events: [structured(parseJson(req.body), '')], batch: false }
  if (type === CLOUDEVENTS_BATCH_MEDIA_TYPE) {
    const doc = parseJson(req.body)
    if (!Array.isArray(doc) || doc.length === 0) {
      throw new ValidationError([{ path: '', message: 'a CloudEvents batch is a non-empty JSON array' }])
    }
    return { events: doc.map((d, i) => structured(d, String(i))), batch: true }
  }
  return { events: [binary(req)], batch: false }
}

/** An attribute's place in the request: a structured event's field (`3.time`), a binary event's header (`ce-time`). */
type At = (attribute: string) => string

function fromAttributes(
  attrs: Record<string, unknown>,
  data: PublishEvent['data'],
  dataBase64: string | undefined,
  at: At,
): PublishEvent {
  if (attrs.specversion !== '1.0') {
    throw new ValidationError([{ path: at('specversion'), message: "CloudEvents specversion must be '1.0'" }])
  }
  for (const f of REQUIRED) {
    if (typeof attrs[f] !== 'string' || attrs[f] === '') {
      throw new ValidationError([{ path: at(f), message: `CloudEvents attribute '${f}' is required` }])
    }
  }
  const headers: Record<string, string> = {}
  const typed: string[] = []
  for (const [k, v] of Object.entries(attrs)) {
    if (CLOUDEVENTS_CONTEXT.has(k) || v === undefined || v === null) continue
    if (!isCloudEventsExtensionName(k)) {
      throw new ValidationError([
        { path: at(k), message: 'extension names are 1-20 lowercase letters or digits' },
      ])
    }
    if (typeof v === 'number' || typeof v === 'boolean') typed.push(k)
    headers[k] = typeof v === 'string' ? v : JSON.stringify(v)
  }
  if (typed.length > 0) headers[CLOUDEVENTS_TYPED_HEADER] = typed.join(',')
  if (typeof attrs.dataschema === 'string') headers.dataschema = attrs.dataschema
  const event: PublishEvent = {
    id: attrs.id as string,
    source: attrs.source as string,
    type: attrs.type as string,
    dedupeKey: `${attrs.source as string}#${attrs.id as string}`,
    contentType: typeof attrs.datacontenttype === 'string' ? attrs.datacontenttype : 'application/json',
    headers,
  }
  if (attrs.time !== undefined) event.time = eventTime(attrs.time, at('time'))
  if (typeof attrs[PARTITION_KEY] === 'string') event.key = attrs[PARTITION_KEY] as string
  if (dataBase64 !== undefined) event.dataBase64 = dataBase64
  else event.data = data ?? null
  return event
}

function structured(doc: unknown, path: string): PublishEvent {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ValidationError([{ path, message: 'a structured CloudEvent is a JSON object' }])
  }
  const attrs = doc as Record<string, unknown>
  const at: At = (f) => (path ? `${path}.${f}` : f)
  if (attrs.data !== undefined && attrs.data_base64 !== undefined) {
    throw new ValidationError([{ path: at('data'), message: 'give data or data_base64, not both' }])
  }
  if (attrs.data_base64 !== undefined && typeof attrs.data_base64 !== 'string') {
    throw new ValidationError([{ path: at('data_base64'), message: 'data_base64 is a base64 string' }])
  }
  return fromAttributes(
    attrs,
    attrs.data as PublishEvent['data'],
    attrs.data_base64 as string | undefined,
    at,
  )
}

/** CloudEvents `time` (RFC 3339) as the event time, checked as a publish's `time` is. */
function eventTime(value: unknown, path: string): string {
  const checked = eventTimeSchema.safeParse(value)
  if (checked.success) return checked.data
  throw new ValidationError([
    { path, message: checked.error.issues[0]?.message ?? 'CloudEvents time is an RFC 3339 timestamp' },
  ])
}

/**
 * A `ce-*` header's value: percent-encoded, as the binary mode's spec has it. A malformed escape,
 * or one that decodes to text the log cannot store, is refused with the header's name.
 */
function headerValue(name: string, value: string | string[]): string {
  const raw = Array.isArray(value) ? value.join(',') : value
  let decoded: string
  try {
    decoded = decodeURIComponent(raw)
  } catch {
    throw new ValidationError([
      { path: name, message: `header ${name} holds a malformed percent-escape (RFC 3986 §2.1)` },
    ])
  }
  const problem = textProblem(decoded)
  if (problem) throw new ValidationError([{ path: name, message: `header ${name} ${problem}` }])
  return decoded
}

const headerOf: At = (attribute) => `ce-${attribute}`

function binary(req: CloudEventsRequest): PublishEvent {
  const attrs: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (!name.startsWith('ce-') || value === undefined) continue
    attrs[name.slice(3)] = headerValue(name, value)
  }
  if (attrs.specversion === undefined) {
    throw new ValidationError([
      {
        path: 'ce-specversion',
        message: 'binary mode needs ce-specversion, ce-id, ce-source and ce-type headers',
      },
    ])
  }
  for (const f of REQUIRED) {
    if (attrs[f] === undefined)
      throw new ValidationError([{ path: `ce-${f}`, message: `header ce-${f} is required` }])
  }
  const contentType = req.contentType ?? 'application/json'
  attrs.datacontenttype = contentType
  const body = req.body
  const raw = Buffer.isBuffer(body)
    ? body
    : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body ?? null))
  if (isJsonContentType(contentType)) {
    let data: unknown
    try {
      data = raw.length === 0 ? null : JSON.parse(raw.toString('utf8'))
    } catch (e) {
      throw new BadRequestError(`body is not valid JSON: ${(e as Error).message}`)
    }
    return fromAttributes(attrs, data as PublishEvent['data'], undefined, headerOf)
  }
  return fromAttributes(attrs, undefined, raw.toString('base64'), headerOf)
}

function parseJson(body: unknown): unknown {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : undefined
  if (text === undefined) return body
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new BadRequestError(`body is not valid JSON: ${(e as Error).message}`)
  }
}
