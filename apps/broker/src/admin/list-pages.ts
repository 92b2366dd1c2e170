import { z } from 'zod'
import type { Sql } from '../storage/db'
import {
  type SubscriptionListRow,
  subscriptionRows,
  type TopicListRow,
  topicFigures,
  topicRows,
} from './list-store'

const pageFields = {
  /** Part of the name (any case); topics also match nothing else, subscriptions their topic pattern too. */
  search: z.string().max(200).default(''),
  desc: z.boolean().default(false),
  offset: z.number().int().min(0).default(0),
  limit: z.number().int().min(1).max(200).default(50),
}

export const topicPageSchema = z.strictObject({
  ...pageFields,
  /** `topics` leaves dead-letter topics out, `dead-letters` shows only them. */
  kind: z.enum(['all', 'topics', 'dead-letters']).default('all'),
  sort: z.enum(['name', 'partitions', 'events', 'size', 'rate', 'created']).default('name'),
})

export const subscriptionPageSchema = z.strictObject({
  ...pageFields,
  mode: z.enum(['all', 'stream', 'queue']).default('all'),
  state: z.enum(['all', 'active', 'paused', 'lagging', 'dead-letters']).default('all'),
  sort: z.enum(['name', 'topic', 'lag', 'lagSeconds', 'pending', 'deadLetters', 'created']).default('name'),
})

export interface Page<T> {
  /** Rows matching the search and filters, before the page was cut. */
  total: number
  offset: number
  rows: T[]
}

/** Sorts by one field (nulls last whichever the direction, name breaking ties) and cuts the page. */
function cut<T extends { name: string }>(
  rows: T[],
  value: (r: T) => number | string | null,
  q: { desc: boolean; offset: number; limit: number },
): Page<T> {
  const dir = q.desc ? -1 : 1
  const sorted = [...rows].sort((a, b) => {
    const va = value(a)
    const vb = value(b)
    if (va !== vb) {
      if (va === null) return 1
      if (vb === null) return -1
      return (va < vb ? -1 : 1) * dir
    }
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
  })
  return { total: rows.length, offset: q.offset, rows: sorted.slice(q.offset, q.offset + q.limit) }
}

const RATE_WINDOW_MS = 60_000
const SAMPLE_EVERY_MS = 1000

/**
 * Append rates from the log's own counters: each listing keeps a sample of every topic's
 * appended total (at most one a second, for a minute), and a rate is the growth since the
 * oldest sample kept. The counters are in the database, so every broker of a cluster
 * sees the cluster's rate; a topic listed for the first time has none yet.
 */
export class AppendRates {
  private readonly samples = new Map<string, Array<{ at: number; appended: number }>>()

  rate(name: string, appended: number, now: number): number | null {
    let list = this.samples.get(name)
    if (!list) {
      list = []
      this.samples.set(name, list)
    }
    while (list.length > 1 && now - list[0]!.at > RATE_WINDOW_MS) list.shift()
    const last = list[list.length - 1]
    // a topic deleted and created again starts over
    if (last && appended < last.appended) list.length = 0
    if (!last || now - last.at >= SAMPLE_EVERY_MS) list.push({ at: now, appended })
    const first = list[0]!
    const span = now - first.at
    return span < SAMPLE_EVERY_MS ? null : ((appended - first.appended) * 1000) / span
  }

  /** Forgets topics not listed for a while (deleted ones), so memory follows the topics there are. */
  prune(now: number): void {
    for (const [name, list] of this.samples) {
      const last = list[list.length - 1]
      if (!last || now - last.at > 2 * RATE_WINDOW_MS) this.samples.delete(name)
    }
  }
}

export type TopicPageRow = Omit<TopicListRow, 'id' | 'appended'> & {
  events: number
  sizeBytes: number
  ratePerSecond: number | null
}

/**
 * Each topic's stored events and size as last read for a page. Sorting by them orders every
 * topic by these figures (a topic never on a page yet by its appended count and no size),
 * while the rows of the page itself are read afresh.
 */
export class TopicFigureCache {
  private readonly figures = new Map<number, { events: number; sizeBytes: number }>()

  get(id: number) {
    return this.figures.get(id)
  }

  set(id: number, f: { events: number; sizeBytes: number }) {
    this.figures.set(id, f)
  }

  /** Keeps the figures of the topics there are. */
  keep(ids: Set<number>) {
    for (const id of this.figures.keys()) if (!ids.has(id)) this.figures.delete(id)
  }
}

export async function topicPage(
  sql: Sql,
  rates: AppendRates,
  cache: TopicFigureCache,
  q: z.infer<typeof topicPageSchema>,
): Promise<Page<TopicPageRow>> {
  const now = Date.now()
  const all = await topicRows(sql, q.search)
  if (q.search === '') cache.keep(new Set(all.map((r) => r.id)))
  const rows = all
    .filter((r) => q.kind === 'all' || (q.kind === 'dead-letters') === (r.deadLetterOf !== null))
    .map((r) => ({ ...r, ratePerSecond: rates.rate(r.name, r.appended, now) }))
  rates.prune(now)
  type Row = (typeof rows)[number]
  const value = {
    name: (r: Row) => r.name,
    partitions: (r: Row) => r.partitions,
    events: (r: Row) => cache.get(r.id)?.events ?? r.appended,
    size: (r: Row) => cache.get(r.id)?.sizeBytes ?? 0,
    rate: (r: Row) => r.ratePerSecond,
    created: (r: Row) => r.createdAt,
  }[q.sort]
  const page = cut(rows, value, q)
  const figures = await topicFigures(
    sql,
    page.rows.map((r) => r.id),
  )
  return {
    ...page,
    rows: page.rows.map(({ id, appended: _appended, ...r }) => {
      const f = figures.get(id)!
      cache.set(id, f)
      return { ...r, ...f }
    }),
  }
}

export async function subscriptionPage(
  sql: Sql,
  q: z.infer<typeof subscriptionPageSchema>,
): Promise<Page<SubscriptionListRow>> {
  const rows = (await subscriptionRows(sql, q.search)).filter(
    (r) =>
      (q.mode === 'all' || r.mode === q.mode) &&
      (q.state === 'all' ||
        (q.state === 'paused' && r.paused) ||
        (q.state === 'active' && !r.paused) ||
        (q.state === 'lagging' && (r.lag ?? 0) > 0) ||
        (q.state === 'dead-letters' && (r.deadLetters ?? 0) > 0)),
  )
  const value = {
    name: (r: SubscriptionListRow) => r.name,
    topic: (r: SubscriptionListRow) => r.topic,
    lag: (r: SubscriptionListRow) => r.lag,
    lagSeconds: (r: SubscriptionListRow) => r.lagSeconds,
    pending: (r: SubscriptionListRow) => r.pending,
    deadLetters: (r: SubscriptionListRow) => r.deadLetters,
    created: (r: SubscriptionListRow) => r.createdAt,
  }[q.sort]
  return cut(rows, value, q)
}
