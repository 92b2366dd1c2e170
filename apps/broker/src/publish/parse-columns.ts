import {
  isText,
  MAX_BATCH_EVENTS,
  type PublishColumnsHeader,
  publishColumnsHeaderSchema,
  ValidationError,
} from '@questlog/protocol'
import { parse } from '../parse'
import { splitJsonArray } from './json-array'
import type { WireEvent } from './validate'

function column(v: unknown, ok: (x: unknown) => boolean): boolean {
  if (v === undefined) return true
  if (!Array.isArray(v)) return false
  for (let i = 0; i < v.length; i++) if (!ok(v[i])) return false
  return true
}

const isSeq = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0
const isId = (x: unknown) => isText(x, 256)
const isKey = (x: unknown) => x === null || isText(x, 512)

/**
 * The header of a binary publish, checked by hand for what the SDKs send;
 * anything else gets the schema, which names the failing field.
 */
export function columnsHeader(json: unknown): PublishColumnsHeader {
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
    const h = json as Record<string, unknown>
    let known = true
    for (const k in h) {
      if (!COLUMN_FIELDS.has(k)) known = false
    }
    if (
      known &&
      h.op === 'publish' &&
      isSeq(h.id) &&
      typeof h.topic === 'string' &&
      h.topic.length > 0 &&
      (h.epoch === undefined || isSeq(h.epoch)) &&
      (h.receipts === undefined || h.receipts === 'runs' || h.receipts === 'full') &&
      (h.producer === undefined || isText(h.producer, 128)) &&
      column(h.seqs, isSeq) &&
      column(h.ids, isId) &&
      column(h.keys, isKey)
    ) {
      // the topic name's own rules are checked where the topic is looked up
      return h as PublishColumnsHeader
    }
  }
  return parse(publishColumnsHeaderSchema, json)
}

const COLUMN_FIELDS = new Set(['op', 'id', 'topic', 'epoch', 'receipts', 'producer', 'seqs', 'ids', 'keys'])

/**
 * The events of a binary publish: its header's columns and the payloads' JSON
 * array, each payload kept as the text it was sent as. Problems are named by
 * the same paths as in a `publish` frame (`events.3.data`).
 */
export function eventsFromColumns(h: PublishColumnsHeader, payloads: string): WireEvent[] {
  const split = splitJsonArray(payloads)
  if (!split.ok) {
    const path = split.index < 0 ? 'events' : `events.${split.index}.data`
    throw new ValidationError([{ path, message: `not valid JSON: ${split.message}` }])
  }
  const n = split.items.length
  if (n < 1 || n > MAX_BATCH_EVENTS) {
    throw new ValidationError([
      { path: 'events', message: `a batch holds 1 to ${MAX_BATCH_EVENTS} events; this one holds ${n}` },
    ])
  }
  const issues: Array<{ path: string; message: string }> = []
  for (const name of ['seqs', 'ids', 'keys'] as const) {
    const c = h[name]
    if (c !== undefined && c.length !== n)
      issues.push({ path: name, message: `holds ${c.length} entries for ${n} payloads` })
  }
  if ((h.producer === undefined) !== (h.seqs === undefined))
    issues.push({ path: 'seqs', message: 'give producer and seqs together' })
  if (issues.length > 0) throw new ValidationError(issues)
  const events: WireEvent[] = new Array(n)
  for (let i = 0; i < n; i++) {
    events[i] = {
      dataJson: split.items[i]!,
      id: h.ids?.[i],
      key: h.keys?.[i] ?? undefined,
      producer: h.producer,
      seq: h.seqs?.[i],
    }
  }
  return events
}
