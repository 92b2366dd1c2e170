import type { StoredEvent } from '../storage/event-store'
import type { WireEvent } from './validate'

/**
 * The parse step of the broker's own doors that copy an event from the log
 * (a replay into a topic, a dead letter into `{subscription}.dlq`): the event
 * as it is stored, with headers of the copier's added and a dedupe key that
 * makes a repeated copy a duplicate. It is validated again like any other.
 */
export function copyOfStored(
  e: StoredEvent,
  copy: { headers: Record<string, string>; dedupeKey: string; partition?: number },
): WireEvent {
  const event: WireEvent = {
    id: e.id,
    type: e.type,
    source: e.source,
    contentType: e.contentType,
    headers: {
      ...(e.headersJson ? (JSON.parse(e.headersJson) as Record<string, string>) : {}),
      ...copy.headers,
    },
    dedupeKey: copy.dedupeKey,
    dataBytes: e.data,
  }
  // a sealed event's copy keeps its sealed bytes and key: erasing a player's data key erases the copy too
  if (e.sealed) event.sealed = e.sealed
  if (e.key !== null) event.key = e.key
  if (e.eventTime) event.time = e.eventTime.toISOString()
  if (copy.partition !== undefined) event.partition = copy.partition
  return event
}
