import { isJsonContentType } from '@questlog/protocol'
import type { StoredEvent } from '../storage/event-store'

const str = (s: string | null) => (s === null ? 'null' : JSON.stringify(s))

/**
 * The envelope of a stored event as JSON text. JSON payloads are spliced in as
 * stored (they were serialized on the way in), so reads never parse payloads;
 * live events of this broker's own publishes still hold that text, not decoded again.
 */
export function envelopeJson(topic: string, e: StoredEvent): string {
  const payload = isJsonContentType(e.contentType)
    ? `"data":${e.dataJson ?? (e.data.length === 0 ? 'null' : e.data.toString('utf8'))}`
    : `"dataBase64":"${e.data.toString('base64')}"`
  return (
    `{"id":${str(e.id)},"topic":${str(topic)},"partition":${e.partition},"offset":"${e.offset}",` +
    `"type":${str(e.type)},"source":${str(e.source)},"time":"${e.time.toISOString()}",` +
    `${e.eventTime ? `"eventTime":"${e.eventTime.toISOString()}",` : ''}"key":${str(e.key)},"dedupeKey":${str(e.dedupeKey)},"contentType":${str(e.contentType)},` +
    `"headers":${e.headersJson ?? '{}'},${payload}}`
  )
}
