import {
  type CLOUDEVENT_MEDIA_TYPE,
  type CLOUDEVENTS_BATCH_MEDIA_TYPE,
  CLOUDEVENTS_CONTEXT,
  CLOUDEVENTS_TYPED_HEADER,
  isCloudEventsExtensionName,
  isJsonContentType,
} from '@questlog/protocol'
import type { StoredEvent } from '../storage/event-store'

/** A header named as a CloudEvents attribute that it may stand for (`dataschema` stands for itself). */
const isExtension = (name: string) =>
  name === 'dataschema' || (isCloudEventsExtensionName(name) && !CLOUDEVENTS_CONTEXT.has(name))

/** The value a typed extension's header holds, when it is a number or a boolean; else undefined. */
function typedValue(text: string): number | boolean | undefined {
  try {
    const v: unknown = JSON.parse(text)
    return typeof v === 'number' || typeof v === 'boolean' ? v : undefined
  } catch {
    return undefined
  }
}

/**
 * A stored event as a structured CloudEvent (JSON format), as JSON text: `time` is the event time
 * when the producer gave one, else the commit time; `partitionkey` is the key; headers named as
 * CloudEvents extensions are (lowercase letters and digits), those listed in `ql-ce-typed` as the
 * numbers and booleans they were published as; other headers are left out. A JSON payload is
 * spliced in as stored, as in the envelope.
 */
export function cloudEventJson(e: StoredEvent): string {
  const attrs: Record<string, unknown> = {
    specversion: '1.0',
    id: e.id,
    source: e.source,
    type: e.type,
    time: (e.eventTime ?? e.time).toISOString(),
    datacontenttype: e.contentType,
  }
  if (e.key !== null) attrs.partitionkey = e.key
  if (e.headersJson) {
    const headers = JSON.parse(e.headersJson) as Record<string, string>
    const typed = new Set((headers[CLOUDEVENTS_TYPED_HEADER] ?? '').split(','))
    for (const [name, value] of Object.entries(headers)) {
      if (!isExtension(name)) continue
      attrs[name] = (typed.has(name) ? typedValue(value) : undefined) ?? value
    }
  }
  const head = JSON.stringify(attrs).slice(0, -1)
  return isJsonContentType(e.contentType)
    ? `${head},"data":${e.dataJson ?? (e.data.length === 0 ? 'null' : e.data.toString('utf8'))}}`
    : `${head},"data_base64":"${e.data.toString('base64')}"}`
}

/**
 * True when the `Accept` header asks for `type` (a CloudEvents media type) by name, with a
 * quality above zero; `*\/*` and `application/json` keep the envelope.
 */
export function acceptsCloudEvents(
  accept: string | undefined,
  type: typeof CLOUDEVENT_MEDIA_TYPE | typeof CLOUDEVENTS_BATCH_MEDIA_TYPE,
): boolean {
  if (!accept) return false
  for (const range of accept.split(',')) {
    const [media, ...params] = range.split(';').map((p) => p.trim().toLowerCase())
    if (media !== type) continue
    const q = params.find((p) => p.startsWith('q='))
    return q === undefined || Number(q.slice(2)) > 0
  }
  return false
}
