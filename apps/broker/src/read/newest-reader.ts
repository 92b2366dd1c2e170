import { subjectPatternError, subjectPatternToRegex, ValidationError } from '@questlog/protocol'
import { z } from 'zod'
import type { Sql } from '../storage/db'
import { highWatermarks, lowWatermarks, readNewestEvents, type StoredEvent } from '../storage/event-store'
import type { Topic } from '../topics/topic-service'

/** Rows of each partition one page looks at, at most: a search costs this much, not the whole topic. */
export const SCAN_WINDOW = 5000

const position = z.object({ partition: z.number().int().min(0), offset: z.number().int().min(0) })

/** The console's newest-first browse: filters are applied by the database, a window at a time. */
export const browseQuerySchema = z.strictObject({
  partition: z.number().int().min(0).optional(),
  /** `before` of the previous page, to read the page of older events; absent: the newest. */
  before: z.array(position).max(4096).optional(),
  /** Text that must appear in the payload (case-sensitive). */
  contains: z.string().min(1).max(200).optional(),
  /** A JSON field by path (`player.id`, `$.player.id`) and the value it must have, as text. */
  field: z
    .object({
      path: z
        .string()
        .max(200)
        .regex(/^(\$\.)?[^.]+(\.[^.]+){0,15}$/, 'use a dotted path such as player.id'),
      equals: z.string().max(500),
    })
    .optional(),
  key: z.string().max(512).optional(),
  type: z
    .string()
    .max(256)
    .superRefine((v, ctx) => {
      const problem = subjectPatternError(v)
      if (problem) ctx.addIssue({ code: 'custom', message: problem })
    })
    .optional(),
  limit: z.number().int().min(1).max(500).default(50),
})

export type BrowseQuery = z.infer<typeof browseQuerySchema>

export interface NewestPage {
  events: StoredEvent[]
  /** Where the next (older) page starts, per partition. */
  before: Array<{ partition: number; offset: number }>
  /** Nothing older is left to look at. */
  done: boolean
  /** The high watermarks when the page was read: following from here shows what comes after it. */
  latest: Array<{ partition: number; offset: number }>
}

/**
 * One page of a topic's events, newest first over its partitions (by time), below `before`.
 * Each partition is read within a window of at most SCAN_WINDOW offsets; a page that found
 * fewer matches than asked moves every window down, a full one moves each partition to the
 * oldest event it gave, so the next page goes on where this one stopped.
 */
export async function readNewestPage(sql: Sql, topic: Topic, q: BrowseQuery): Promise<NewestPage> {
  if (q.partition !== undefined && q.partition >= topic.partitions) {
    throw new ValidationError([
      { path: 'partition', message: `topic '${topic.name}' has partitions 0..${topic.partitions - 1}` },
    ])
  }
  const [high, low] = await Promise.all([highWatermarks(sql, topic.id), lowWatermarks(sql, topic.id)])
  const given = new Map((q.before ?? []).map((p) => [p.partition, p.offset]))
  for (const p of given.keys()) {
    if (p >= topic.partitions) {
      throw new ValidationError([{ path: 'before', message: `topic '${topic.name}' has no partition ${p}` }])
    }
  }
  const partitions =
    q.partition !== undefined ? [q.partition] : q.before !== undefined ? [...given.keys()] : [...high.keys()]
  const before = new Map<number, number>()
  const floor = new Map<number, number>()
  for (const p of partitions) {
    const b = Math.min(given.get(p) ?? high.get(p) ?? 0, high.get(p) ?? 0)
    const l = low.get(p) ?? 0
    if (b <= l) continue
    before.set(p, b)
    floor.set(p, Math.max(l, b - SCAN_WINDOW))
  }
  const events =
    before.size === 0
      ? []
      : await readNewestEvents(sql, topic.id, {
          before,
          floor,
          contains: q.contains,
          field: q.field && {
            path: q.field.path.replace(/^\$\./, '').split('.'),
            equals: q.field.equals,
          },
          key: q.key,
          typeRegex: q.type === undefined ? undefined : subjectPatternToRegex(q.type),
          limit: q.limit,
        })
  const full = events.length === q.limit
  const next = new Map<number, number>()
  for (const [p, b] of before) next.set(p, full ? b : floor.get(p)!)
  if (full) for (const e of events) next.set(e.partition, Math.min(next.get(e.partition)!, e.offset))
  const left = [...next].filter(([p, b]) => b > (low.get(p) ?? 0))
  return {
    events,
    before: left.map(([partition, offset]) => ({ partition, offset })),
    done: left.length === 0,
    latest: partitions.map((p) => ({ partition: p, offset: high.get(p) ?? 0 })),
  }
}
