'use client'

import { type FormEvent, useState } from 'react'
import { ErrorNote, Loading } from '@/components/states'
import { EventCard } from './event-card'
import { type FeedQuery, useMessageFeed } from './use-message-feed'

const MODES = [
  { value: 'offset', label: 'Partition + offset' },
  { value: 'time', label: 'Time' },
  { value: 'key', label: 'Key' },
  { value: 'type', label: 'Type' },
] as const

type Mode = (typeof MODES)[number]['value']

interface Draft {
  partition: string
  from: string
  since: string
  until: string
  key: string
  type: string
}

const START: Draft = { partition: '', from: 'earliest', since: '15m', until: '', key: '', type: '' }

function toQuery(mode: Mode, d: Draft): FeedQuery {
  const q: FeedQuery = {}
  if (d.partition !== '') q.partition = Number(d.partition)
  if (mode === 'offset' && d.from.trim()) q.from = d.from.trim()
  if (mode === 'time') {
    if (d.since.trim()) q.since = d.since.trim()
    if (d.until.trim()) q.until = d.until.trim()
  }
  if (mode === 'key' && d.key.trim()) q.key = d.key.trim()
  if (mode === 'type' && d.type.trim()) q.type = d.type.trim()
  return q
}

/** Browse a topic's events by offset, time, key or type, and follow new ones live. */
export function MessageBrowser({ topic, partitions }: { topic: string; partitions: number }) {
  const [mode, setMode] = useState<Mode>('offset')
  const [draft, setDraft] = useState<Draft>(START)
  const [query, setQuery] = useState<FeedQuery>(toQuery('offset', START))
  const [follow, setFollow] = useState(true)
  const feed = useMessageFeed(topic, query, follow)
  const set = (k: keyof Draft) => (e: { target: { value: string } }) =>
    setDraft({ ...draft, [k]: e.target.value })

  function apply(e: FormEvent) {
    e.preventDefault()
    setQuery(toQuery(mode, draft))
  }

  return (
    <section className="panel" aria-label="Messages">
      <div className="page-header" style={{ marginBottom: 10 }}>
        <h2 style={{ margin: 0 }}>Messages</h2>
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow live
          {follow && <span className="live-dot" style={{ marginLeft: 8 }} aria-hidden="true" />}
        </label>
      </div>
      <div className="segmented" style={{ marginBottom: 10 }}>
        {MODES.map((m) => (
          <button
            key={m.value}
            type="button"
            aria-pressed={mode === m.value}
            onClick={() => setMode(m.value)}
          >
            {m.label}
          </button>
        ))}
      </div>
      <form className="toolbar" onSubmit={apply} aria-label="Message filter">
        <div className="field">
          <label htmlFor="browse-partition">Partition</label>
          <select id="browse-partition" value={draft.partition} onChange={set('partition')}>
            <option value="">all</option>
            {[...Array(partitions).keys()].map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </div>
        {mode === 'offset' && (
          <div className="field">
            <label htmlFor="browse-from">From offset</label>
            <input
              id="browse-from"
              value={draft.from}
              onChange={set('from')}
              placeholder="earliest, latest or 42"
            />
          </div>
        )}
        {mode === 'time' && (
          <>
            <div className="field">
              <label htmlFor="browse-since">Since</label>
              <input
                id="browse-since"
                value={draft.since}
                onChange={set('since')}
                placeholder="15m, 1h or ISO time"
              />
            </div>
            <div className="field">
              <label htmlFor="browse-until">Until</label>
              <input id="browse-until" value={draft.until} onChange={set('until')} placeholder="now" />
            </div>
          </>
        )}
        {mode === 'key' && (
          <div className="field">
            <label htmlFor="browse-key">Key</label>
            <input id="browse-key" value={draft.key} onChange={set('key')} placeholder="player-42" />
          </div>
        )}
        {mode === 'type' && (
          <div className="field">
            <label htmlFor="browse-type">Type</label>
            <input
              id="browse-type"
              value={draft.type}
              onChange={set('type')}
              placeholder="game.* or game.>"
            />
          </div>
        )}
        <button type="submit">Show</button>
      </form>
      {feed.error ? <ErrorNote error={feed.error} title="The events cannot load." /> : null}
      {feed.loading && <Loading what="events" />}
      {!feed.loading && !feed.error && feed.events.length === 0 && (
        <div className="empty" data-testid="no-events">
          No events match{follow ? ' yet: new ones appear here as they are published' : ''}.
        </div>
      )}
      <div className="events" data-testid="events" data-count={feed.events.length}>
        {feed.events.map((e) => (
          <EventCard key={`${e.partition}:${e.offset}`} event={e} />
        ))}
      </div>
      {feed.more && !follow && (
        <button type="button" onClick={feed.loadMore} style={{ marginTop: 10 }}>
          Load more
        </button>
      )}
    </section>
  )
}
