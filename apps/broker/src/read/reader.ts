import { parseTimeParam, type ReadQuery, subjectPatternToRegex, ValidationError } from '@questlog/protocol'
import type { Sql } from '../storage/db'
import {
  highWatermarks,
  lowWatermarks,
  offsetsForTime,
  readEvents,
  type StoredEvent,
} from '../storage/event-store'
import type { Topic } from '../topics/topic-service'
import { type Cursor, decodeCursor, encodeCursor } from './cursor'

export interface Page {
  events: StoredEvent[]
  /** Next offset to ask for, when one partition was read. */
  next: string | null
  /** Opaque position after this page, for `cursor=`. */
  cursor: string
}

function checkPartition(topic: Topic, partition: number, field: string): void {
  if (partition >= topic.partitions) {
    throw new ValidationError([
      { path: field, message: `topic '${topic.name}' has partitions 0..${topic.partitions - 1}` },
    ])
  }
}

/** Turns `from`/`since` and a partition choice into a position per partition. */
export async function resolvePositions(
  sql: Sql,
  topic: Topic,
  q: { partition?: number | undefined; from?: string | undefined; sinceMs?: number | undefined },
  defaultFrom: 'earliest' | 'latest',
): Promise<Map<number, number>> {
  if (q.partition !== undefined) checkPartition(topic, q.partition, 'partition')
  const partitions =
    q.partition !== undefined ? [q.partition] : Array.from({ length: topic.partitions }, (_, i) => i)
  const from = q.from ?? (q.sinceMs !== undefined ? undefined : defaultFrom)
  let base: Map<number, number>
  if (from === undefined) base = await offsetsForTime(sql, topic.id, q.sinceMs!)
  else if (from === 'earliest') base = await lowWatermarks(sql, topic.id)
  else if (from === 'latest') base = await highWatermarks(sql, topic.id)
  else {
    const offset = Number(from)
    if (q.partition !== undefined) {
      const high = (await highWatermarks(sql, topic.id)).get(q.partition) ?? 0
      if (offset > high) {
        throw new ValidationError([
          {
            path: 'from',
            message: `offset ${offset} is past the end of partition ${q.partition} (the next offset is ${high})`,
          },
        ])
      }
    }
    base = new Map(partitions.map((p) => [p, offset]))
  }
  return new Map(partitions.map((p) => [p, base.get(p) ?? 0]))
}

/** Moves positions past a page: past every returned event, and to the high watermark if the page was short. */
export function advance(
  positions: Map<number, number>,
  events: readonly StoredEvent[],
  short: boolean,
  high: Map<number, number>,
): Map<number, number> {
  const next = new Map(positions)
  for (const e of events) next.set(e.partition, Math.max(next.get(e.partition) ?? 0, e.offset + 1))
  if (short) for (const [p, pos] of next) next.set(p, Math.max(pos, high.get(p) ?? pos))
  return next
}

export async function readPage(sql: Sql, topic: Topic, q: ReadQuery): Promise<Page> {
  let cursor: Cursor
  if (q.cursor !== undefined) {
    cursor = decodeCursor(q.cursor, topic.id, 'cursor')
    for (const p of cursor.positions.keys()) checkPartition(topic, p, 'cursor')
  } else {
    const sinceMs = q.since === undefined ? undefined : parseTimeParam(q.since)!.getTime()
    const untilMs = q.until === undefined ? undefined : parseTimeParam(q.until)!.getTime()
    if (sinceMs !== undefined && untilMs !== undefined && untilMs < sinceMs) {
      throw new ValidationError([{ path: 'until', message: 'until is before since' }])
    }
    const positions = await resolvePositions(
      sql,
      topic,
      { partition: q.partition, from: q.from, sinceMs },
      'earliest',
    )
    cursor = { topicId: topic.id, positions, sinceMs, untilMs, key: q.key, type: q.type }
  }
  // watermarks first: whatever they count is visible to the read that follows
  const high = await highWatermarks(sql, topic.id)
  const single = cursor.positions.size === 1
  const events = await readEvents(sql, topic.id, {
    positions: cursor.positions,
    sinceMs: cursor.sinceMs,
    untilMs: cursor.untilMs,
    key: cursor.key,
    typeRegex: cursor.type === undefined ? undefined : subjectPatternToRegex(cursor.type),
    limit: q.limit,
    order: single && cursor.sinceMs === undefined ? 'offset' : 'time',
  })
  const positions = advance(cursor.positions, events, events.length < q.limit, high)
  const after = { ...cursor, positions }
  return {
    events,
    next: single ? String([...positions.values()][0]) : null,
    cursor: encodeCursor(after),
  }
}
