import { PayloadTooLargeError, type PublishEvent, ValidationError } from '@questlog/protocol'
import { v7 as uuidv7 } from 'uuid'
import type { NewEvent } from '../storage/event-store'

export interface PreparedEvent extends NewEvent {
  /** Explicit partition, if the publisher chose one. */
  partition?: number | undefined
}

export interface PrepareContext {
  topic: { name: string; partitions: number; maxEventBytes: number }
  /** `source` of events that do not name one. */
  defaultSource: string
}

/** Turns a validated publish request event into the bytes the log stores; checks size and partition. */
export function prepareEvent(e: PublishEvent, index: number | null, ctx: PrepareContext): PreparedEvent {
  const at = (field: string) => (index === null ? field : `events.${index}.${field}`)
  const data =
    e.dataBase64 !== undefined
      ? Buffer.from(e.dataBase64, 'base64')
      : Buffer.from(JSON.stringify(e.data), 'utf8')
  if (data.length > ctx.topic.maxEventBytes) {
    throw new PayloadTooLargeError(
      `${at('data')} is ${data.length} bytes; topic '${ctx.topic.name}' accepts at most ${ctx.topic.maxEventBytes}`,
      data.length,
      ctx.topic.maxEventBytes,
      { path: at('data'), topic: ctx.topic.name },
    )
  }
  if (e.partition !== undefined && e.partition >= ctx.topic.partitions) {
    throw new ValidationError([
      {
        path: at('partition'),
        message: `topic '${ctx.topic.name}' has partitions 0..${ctx.topic.partitions - 1}`,
      },
    ])
  }
  const headers = e.headers && Object.keys(e.headers).length > 0 ? JSON.stringify(e.headers) : null
  return {
    id: e.id ?? uuidv7(),
    type: e.type ?? ctx.topic.name,
    source: e.source ?? ctx.defaultSource,
    key: e.key ?? null,
    dedupeKey: e.dedupeKey ?? null,
    contentType:
      e.contentType ?? (e.dataBase64 !== undefined ? 'application/octet-stream' : 'application/json'),
    headersJson: headers,
    data,
    partition: e.partition,
  }
}
