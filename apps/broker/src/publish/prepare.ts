import { newEventId, PayloadTooLargeError, type PublishEvent, ValidationError } from '@questlog/protocol'
import type { NewEvent } from '../storage/event-store'

export interface PreparedEvent extends NewEvent {
  /** Explicit partition, if the publisher chose one. */
  partition?: number | undefined
}

/**
 * A publish event as it arrived: parsed from JSON (`data`), or with its
 * payload's text kept as sent (`dataJson`, checked to be one JSON value).
 */
export type WireEvent = PublishEvent & { dataJson?: string | undefined }

export interface PrepareContext {
  topic: { name: string; partitions: number; maxEventBytes: number }
  /** `source` of events that do not name one. */
  defaultSource: string
}

const fieldPath = (index: number | null, field: string) =>
  index === null ? field : `events.${index}.${field}`

function hasKeys(o: object): boolean {
  for (const _ in o) return true
  return false
}

/** Turns a validated publish request event into the bytes the log stores; checks size and partition. */
export function prepareEvent(e: WireEvent, index: number | null, ctx: PrepareContext): PreparedEvent {
  // JSON payloads stay text (the log stores that text); base64 ones become bytes
  const dataJson = e.dataJson ?? (e.dataBase64 === undefined ? JSON.stringify(e.data) : undefined)
  const data = dataJson === undefined ? Buffer.from(e.dataBase64 ?? '', 'base64') : undefined
  const size = data ? data.length : Buffer.byteLength(dataJson ?? '', 'utf8')
  if (size > ctx.topic.maxEventBytes) {
    throw new PayloadTooLargeError(
      `${fieldPath(index, 'data')} is ${size} bytes; topic '${ctx.topic.name}' accepts at most ${ctx.topic.maxEventBytes}`,
      size,
      ctx.topic.maxEventBytes,
      { path: fieldPath(index, 'data'), topic: ctx.topic.name },
    )
  }
  if (e.partition !== undefined && e.partition >= ctx.topic.partitions) {
    throw new ValidationError([
      {
        path: fieldPath(index, 'partition'),
        message: `topic '${ctx.topic.name}' has partitions 0..${ctx.topic.partitions - 1}`,
      },
    ])
  }
  const headers = e.headers && hasKeys(e.headers) ? JSON.stringify(e.headers) : null
  const prepared: PreparedEvent = {
    id: e.id ?? newEventId(),
    type: e.type ?? ctx.topic.name,
    source: e.source ?? ctx.defaultSource,
    key: e.key ?? null,
    dedupeKey: e.dedupeKey ?? null,
    contentType: e.contentType ?? (data ? 'application/octet-stream' : 'application/json'),
    headersJson: headers,
    size,
    partition: e.partition,
  }
  if (e.producer !== undefined) {
    prepared.producer = e.producer
    prepared.seq = e.seq
  }
  if (data) prepared.data = data
  else prepared.dataJson = dataJson
  return prepared
}
