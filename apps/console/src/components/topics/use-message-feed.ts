'use client'

import type { Envelope } from '@questlog/protocol'
import { useEffect, useRef, useState } from 'react'
import { trpc } from '@/lib/trpc'

/** What the browser asks the broker for; each field narrows the read. */
export interface FeedQuery {
  partition?: number
  from?: string
  since?: string
  until?: string
  key?: string
  type?: string
}

const PAGE = 50
const FOLLOW_MS = 1000
/** The browser keeps the newest events only, so following a busy topic stays light. */
const KEEP = 500

export interface Feed {
  events: Envelope[]
  loading: boolean
  error: unknown
  /** More stored events wait past the last page. */
  more: boolean
  loadMore(): void
}

/**
 * Reads a page of a topic, then (when following) keeps reading from the page's
 * cursor every second, so new events appear without a reload.
 */
export function useMessageFeed(topic: string, query: FeedQuery, follow: boolean): Feed {
  const [events, setEvents] = useState<Envelope[]>([])
  const [loading, setLoading] = useState(true)
  const [error, setError] = useState<unknown>(null)
  const [more, setMore] = useState(false)
  const cursor = useRef<string | null>(null)
  const busy = useRef(false)
  /** Bumped by each new query, so a read still in flight for the old one is dropped. */
  const token = useRef(0)
  const [generation, setGeneration] = useState(0)
  const key = JSON.stringify(query)

  async function read(limit: number, first: boolean): Promise<void> {
    if (busy.current && !first) return
    busy.current = true
    const mine = first ? ++token.current : token.current
    try {
      const q =
        first || !cursor.current
          ? { ...(JSON.parse(key) as FeedQuery), limit }
          : { cursor: cursor.current, limit }
      const page = await trpc.events.read.query({ topic, query: q })
      if (mine !== token.current) return
      cursor.current = page.cursor
      const got = page.events as unknown as Envelope[]
      setEvents((prev) => (first ? got : [...prev, ...got]).slice(-KEEP))
      setMore(got.length === limit)
      setError(null)
    } catch (e) {
      if (mine === token.current) setError(e)
    } finally {
      busy.current = false
      setLoading(false)
    }
  }

  // a new query starts over from its first page
  // biome-ignore lint/correctness/useExhaustiveDependencies: `read` closes over `key` and `topic`
  useEffect(() => {
    cursor.current = null
    setLoading(true)
    setEvents([])
    void read(PAGE, true).then(() => setGeneration((g) => g + 1))
  }, [topic, key])

  // biome-ignore lint/correctness/useExhaustiveDependencies: restarts only when following or the query changes
  useEffect(() => {
    if (!follow || generation === 0) return
    const timer = setInterval(() => void read(100, false), FOLLOW_MS)
    return () => clearInterval(timer)
  }, [follow, generation])

  return { events, loading, error, more, loadMore: () => void read(PAGE, false) }
}
