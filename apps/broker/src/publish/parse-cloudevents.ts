import { BadRequestError, isJsonContentType, type PublishEvent, ValidationError } from '@questlog/protocol'
import type { ParsedBody } from './parse-body'

const STRUCTURED = 'application/cloudevents+json'
const BATCH = 'application/cloudevents-batch+json'
const REQUIRED = ['id', 'source', 'type'] as const
const CONTEXT = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'datacontenttype',
  'dataschema',
  'time',
  'data',
  'data_base64',
])
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
 * content modes): each CloudEvent becomes a publish event. Extensions become
 * headers; source + id become the dedupe key, as the spec lets consumers treat
 * a repeated source + id as a duplicate.
 */
export function parseCloudEvents(req: CloudEventsRequest): ParsedBody {
  const type = (req.contentType ?? '').split(';')[0]!.trim().toLowerCase()
  if (type === STRUCTURED) return { events: [structured(parseJson(req.body), '')], batch: false }
  if (type === BATCH) {
    const doc = parseJson(req.body)
    if (!Array.isArray(doc) || doc.length === 0) {
      throw new ValidationError([{ path: '', message: 'a CloudEvents batch is a non-empty JSON array' }])
    }
    return { events: doc.map((d, i) => structured(d, String(i))), batch: true }
  }
  return { events: [binary(req)], batch: false }
}

function fromAttributes(
  attrs: Record<string, unknown>,
  data: PublishEvent['data'],
  dataBase64: string | undefined,
  path: string,
): PublishEvent {
  const at = (f: string) => (path ? `${path}.${f}` : f)
  if (attrs.specversion !== '1.0') {
    throw new ValidationError([{ path: at('specversion'), message: "CloudEvents specversion must be '1.0'" }])
  }
  for (const f of REQUIRED) {
    if (typeof attrs[f] !== 'string' || attrs[f] === '') {
      throw new ValidationError([{ path: at(f), message: `CloudEvents attribute '${f}' is required` }])
    }
  }
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(attrs)) {
    if (CONTEXT.has(k) || k === PARTITION_KEY || v === undefined || v === null) continue
    if (!/^[a-z0-9]{1,20}$/.test(k)) {
      throw new ValidationError([
        { path: at(k), message: 'extension names are 1-20 lowercase letters or digits' },
      ])
    }
    headers[k] = typeof v === 'string' ? v : JSON.stringify(v)
  }
  if (typeof attrs.time === 'string') headers.ce_time = attrs.time
  if (typeof attrs.dataschema === 'string') headers.dataschema = attrs.dataschema
  const event: PublishEvent = {
    id: attrs.id as string,
    source: attrs.source as string,
    type: attrs.type as string,
    dedupeKey: `${attrs.source as string}#${attrs.id as string}`,
    contentType: typeof attrs.datacontenttype === 'string' ? attrs.datacontenttype : 'application/json',
    headers,
  }
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
  if (attrs.data !== undefined && attrs.data_base64 !== undefined) {
    throw new ValidationError([
      { path: path ? `${path}.data` : 'data', message: 'give data or data_base64, not both' },
    ])
  }
  if (attrs.data_base64 !== undefined && typeof attrs.data_base64 !== 'string') {
    throw new ValidationError([
      { path: path ? `${path}.data_base64` : 'data_base64', message: 'data_base64 is a base64 string' },
    ])
  }
  return fromAttributes(
    attrs,
    attrs.data as PublishEvent['data'],
    attrs.data_base64 as string | undefined,
    path,
  )
}

/** A `ce-*` header's value: percent-encoded, as the binary mode's spec has it. */
function headerValue(name: string, value: string | string[]): string {
  const raw = Array.isArray(value) ? value.join(',') : value
  try {
    return decodeURIComponent(raw)
  } catch {
    throw new ValidationError([{ path: name, message: 'holds a malformed percent-escape' }])
  }
}

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
    return fromAttributes(attrs, data as PublishEvent['data'], undefined, '')
  }
  return fromAttributes(attrs, undefined, raw.toString('base64'), '')
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
