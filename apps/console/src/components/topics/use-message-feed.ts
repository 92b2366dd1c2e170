'use client'

import type { Envelope } from '@questlog/protocol'
import { useEffect, useRef, useState } from 'react'
import { trpc } from '@/lib/trpc'

/** Where reading starts: the newest events (read backwards), or forward from the oldest, an offset or a time. */
export type Start =
  | { at: 'newest' }
  | { at: 'earliest' }
  | { at: 'offset'; offset: string }
  | { at: 'time'; since: string }

/** What the browser asks the broker for; each field narrows the read, and the broker applies it. */
export interface FeedQuery {
  start: Start
  partition?: number
  key?: string
  type?: string
  /** Text the payload must hold (newest first only: the broker searches a window at a time). */
  contains?: string
  field?: { path: string; equals: string }
}

const PAGE = 50
const FOLLOW_MS = 500
/** The browser keeps this many events at most, so following a busy topic stays light. */
const KEEP = 1000

type Position = Array<{ partition: number; offset: number }>

export interface Feed {
  events: Envelope[]
  loading: boolean
  error: unknown
  /** Older (newest first) or later (forward) events wait past the last page. */
  more: boolean
  /** Newest first: the broker's window stopped before the oldest event, with what it searched so far. */
  searchedDown: boolean
  loadMore(): void
}

/**
 * Newest first, a page is the newest events below a position; following re-reads the newest
 * page every second, so an event published now shows whatever the topic's rate. Forward, a
 * page continues from the previous page's cursor, and following keeps reading from it.
 */
export function useMessageFeed(topic: string, query: FeedQuery, follow: boolean): Feed {
  const [events, setEvents] = useState<Envelope[]>([])
  const [loading, setLoading] = useState(true)
  const [error, setError] = useState<unknown>(null)
  const [more, setMore] = useState(false)
  const [searchedDown, setSearchedDown] = useState(false)
  const cursor = useRef<string | null>(null)
  const before = useRef<Position | null>(null)
  const busy = useRef(false)
  /** Bumped by each new query, so a read still in flight for the old one is dropped. */
  const token = useRef(0)
  /** Newest first: the operator paged back, so following must not replace what they read. */
  const pagedBack = useRef(false)
  const [generation, setGeneration] = useState(0)
  const key = JSON.stringify(query)
  const newestFirst = query.start.at === 'newest'

  async function readNewest(first: boolean, older: boolean): Promise<void> {
    const q = JSON.parse(key) as FeedQuery
    const page = await trpc.events.newest.query({
      topic,
      query: {
        limit: PAGE,
        ...(q.partition !== undefined && { partition: q.partition }),
        ...(q.key && { key: q.key }),
        ...(q.type && { type: q.type }),
        ...(q.contains && { contains: q.contains }),
        ...(q.field && { field: q.field }),
        ...(older && before.current ? { before: before.current } : {}),
      },
    })
    return apply(first, () => {
      const got = page.events as unknown as Envelope[]
      if (older) setEvents((prev) => [...prev, ...got].slice(0, KEEP))
      else if (first || !pagedBack.current) {
        setEvents(got)
        before.current = page.before
      }
      if (older || first || !pagedBack.current) {
        if (older) before.current = page.before
        setMore(!page.done)
        setSearchedDown(!page.done && got.length < PAGE)
      }
    })
  }

  async function readForward(first: boolean, limit: number): Promise<void> {
    const q = JSON.parse(key) as FeedQuery
    const page = await trpc.events.read.query({
      topic,
      query:
        first || !cursor.current
          ? {
              limit,
              ...(q.partition !== undefined && { partition: q.partition }),
              ...(q.key && { key: q.key }),
              ...(q.type && { type: q.type }),
              ...(q.start.at === 'earliest' && { from: 'earliest' }),
              ...(q.start.at === 'offset' && { from: q.start.offset }),
              ...(q.start.at === 'time' && { since: q.start.since }),
            }
          : { cursor: cursor.current, limit },
    })
    return apply(first, () => {
      cursor.current = page.cursor
      const got = page.events as unknown as Envelope[]
      setEvents((prev) => (first ? got : [...prev, ...got]).slice(-KEEP))
      setMore(got.length === limit)
    })
  }

  let apply: (first: boolean, commit: () => void) => void = () => {}

  async function read(first: boolean, older: boolean, limit = PAGE): Promise<void> {
    if (busy.current && !first) return
    busy.current = true
    const mine = first ? ++token.current : token.current
    apply = (isFirst, commit) => {
      if (mine !== token.current) return
      commit()
      setError(null)
      if (isFirst) setLoading(false)
    }
    try {
      if (newestFirst) await readNewest(first, older)
      else await readForward(first, limit)
    } catch (e) {
      if (mine === token.current) setError(e)
    } finally {
      busy.current = false
      if (mine === token.current) setLoading(false)
    }
  }

  // a new query starts over from its first page
  // biome-ignore lint/correctness/useExhaustiveDependencies: `read` closes over `key` and `topic`
  useEffect(() => {
    cursor.current = null
    before.current = null
    pagedBack.current = false
    setLoading(true)
    setEvents([])
    setSearchedDown(false)
    void read(true, false).then(() => setGeneration((g) => g + 1))
  }, [topic, key])

  // biome-ignore lint/correctness/useExhaustiveDependencies: restarts only when following or the query changes
  useEffect(() => {
    if (!follow || generation === 0) return
    if (newestFirst) pagedBack.current = false
    const timer = setInterval(() => void read(false, false, 200), FOLLOW_MS)
    return () => clearInterval(timer)
  }, [follow, generation])

  return {
    events,
    loading,
    error,
    more,
    searchedDown,
    loadMore: () => {
      if (newestFirst) pagedBack.current = true
      void read(false, newestFirst)
    },
  }
}
