'use client'

import { type FormEvent, useState } from 'react'
import { ErrorNote, Loading } from '@/components/states'
import { downloadJsonLines } from '@/lib/json-lines'
import { EventCard } from './event-card'
import { EventTable } from './event-table'
import { type FeedQuery, type Start, useMessageFeed } from './use-message-feed'

const STARTS = [
  { value: 'newest', label: 'Newest' },
  { value: 'earliest', label: 'Earliest' },
  { value: 'offset', label: 'Offset' },
  { value: 'time', label: 'Time' },
] as const

type StartAt = (typeof STARTS)[number]['value']

interface Draft {
  partition: string
  offset: string
  since: string
  key: string
  type: string
  contains: string
  path: string
  equals: string
}

const BLANK: Draft = {
  partition: '',
  offset: '0',
  since: '15m',
  key: '',
  type: '',
  contains: '',
  path: '',
  equals: '',
}

function toQuery(at: StartAt, d: Draft): FeedQuery {
  const search = d.contains.trim() !== '' || d.path.trim() !== ''
  // a payload search reads newest first: the broker looks a window at a time from the end
  const start: Start =
    search || at === 'newest'
      ? { at: 'newest' }
      : at === 'earliest'
        ? { at: 'earliest' }
        : at === 'offset'
          ? { at: 'offset', offset: d.offset.trim() || '0' }
          : { at: 'time', since: d.since.trim() || '15m' }
  const q: FeedQuery = { start }
  if (d.partition !== '') q.partition = Number(d.partition)
  if (d.key.trim()) q.key = d.key.trim()
  if (d.type.trim()) q.type = d.type.trim()
  if (d.contains.trim()) q.contains = d.contains.trim()
  if (d.path.trim()) q.field = { path: d.path.trim(), equals: d.equals }
  return q
}

/**
 * A topic's events, newest first by default (as Kafka consoles show them), followed live from the
 * newest; the operator jumps to the earliest, an offset or a time, and searches payloads, which
 * the broker does without sending the topic to the page.
 */
export function MessageBrowser({ topic, partitions }: { topic: string; partitions: number }) {
  const [at, setAt] = useState<StartAt>('newest')
  const [draft, setDraft] = useState<Draft>(BLANK)
  const [query, setQuery] = useState<FeedQuery>(toQuery('newest', BLANK))
  const [follow, setFollow] = useState(true)
  const [view, setView] = useState<'table' | 'cards'>('cards')
  const [copied, setCopied] = useState(false)
  const feed = useMessageFeed(topic, query, follow)
  const set = (k: keyof Draft) => (e: { target: { value: string } }) =>
    setDraft({ ...draft, [k]: e.target.value })
  const newest = query.start.at === 'newest'

  function apply(e: FormEvent) {
    e.preventDefault()
    setQuery(toQuery(at, draft))
  }

  function jump(to: StartAt) {
    setAt(to)
    // live means the newest events: reading from the earliest, an offset or a time stays put
    if (to !== 'newest') setFollow(false)
    // newest and earliest need nothing more: they read at once
    if (to === 'newest' || to === 'earliest') setQuery(toQuery(to, { ...draft, contains: '', path: '' }))
    if (to !== 'newest' || draft.contains || draft.path) setDraft({ ...draft, contains: '', path: '' })
  }

  return (
    <section className="panel" aria-label="Messages">
      <div className="page-header compact">
        <h2>Messages</h2>
        <div className="actions">
          <label>
            <input
              type="checkbox"
              checked={follow}
              onChange={(e) => {
                setFollow(e.target.checked)
                if (e.target.checked && at !== 'newest') jump('newest')
              }}
            />{' '}
            Follow live
            {follow && <span className="live-dot" aria-hidden="true" />}
          </label>
          <fieldset className="segmented">
            <legend className="visually-hidden">View</legend>
            <button type="button" aria-pressed={view === 'cards'} onClick={() => setView('cards')}>
              Cards
            </button>
            <button type="button" aria-pressed={view === 'table'} onClick={() => setView('table')}>
              Table
            </button>
          </fieldset>
        </div>
      </div>
      <fieldset className="segmented spaced">
        <legend className="visually-hidden">Start from</legend>
        {STARTS.map((s) => (
          <button key={s.value} type="button" aria-pressed={at === s.value} onClick={() => jump(s.value)}>
            {s.label}
          </button>
        ))}
      </fieldset>
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
        {at === 'offset' && (
          <div className="field">
            <label htmlFor="browse-from">From offset</label>
            <input id="browse-from" inputMode="numeric" value={draft.offset} onChange={set('offset')} />
          </div>
        )}
        {at === 'time' && (
          <div className="field">
            <label htmlFor="browse-since">Since</label>
            <input
              id="browse-since"
              value={draft.since}
              onChange={set('since')}
              placeholder="15m, 1h or ISO time"
            />
          </div>
        )}
        <div className="field">
          <label htmlFor="browse-key">Key</label>
          <input id="browse-key" value={draft.key} onChange={set('key')} placeholder="player-42" />
        </div>
        <div className="field">
          <label htmlFor="browse-type">Type</label>
          <input id="browse-type" value={draft.type} onChange={set('type')} placeholder="game.* or game.>" />
        </div>
        <div className="field">
          <label htmlFor="browse-contains">Payload contains</label>
          <input
            id="browse-contains"
            value={draft.contains}
            onChange={set('contains')}
            placeholder="gold-drop"
          />
        </div>
        <div className="field">
          <label htmlFor="browse-path">JSON field</label>
          <input id="browse-path" value={draft.path} onChange={set('path')} placeholder="player.id" />
        </div>
        {draft.path.trim() !== '' && (
          <div className="field">
            <label htmlFor="browse-equals">equals</label>
            <input id="browse-equals" value={draft.equals} onChange={set('equals')} placeholder="p-42" />
          </div>
        )}
        <button type="submit">Show</button>
      </form>
      <div className="toolbar">
        <span className="muted" data-testid="feed-position">
          {newest ? 'Newest first' : 'Oldest first'} · {feed.events.length} shown
        </span>
        <button
          type="button"
          disabled={feed.events.length === 0}
          onClick={async () => {
            await navigator.clipboard.writeText(feed.events.map((e) => JSON.stringify(e)).join('\n'))
            setCopied(true)
            setTimeout(() => setCopied(false), 1500)
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button
          type="button"
          disabled={feed.events.length === 0}
          onClick={() => downloadJsonLines(feed.events, `${topic}.jsonl`)}
        >
          Export JSON lines
        </button>
      </div>
      {feed.error ? <ErrorNote error={feed.error} title="The events cannot load." /> : null}
      {feed.loading && <Loading what="events" />}
      {!feed.loading && !feed.error && feed.events.length === 0 && (
        <div className="empty" data-testid="no-events">
          {feed.searchedDown
            ? 'Nothing matches in the newest events searched so far.'
            : `No events match${follow ? ' yet: new ones appear here as they are published' : ''}.`}
        </div>
      )}
      {view === 'table' ? (
        <EventTable events={feed.events} />
      ) : (
        <div className="events" data-testid="events" data-count={feed.events.length}>
          {feed.events.map((e) => (
            <EventCard key={`${e.partition}:${e.offset}`} event={e} />
          ))}
        </div>
      )}
      {feed.more && !(follow && !newest) && (
        <button
          type="button"
          className="spaced-top"
          onClick={() => {
            if (newest) setFollow(false)
            feed.loadMore()
          }}
        >
          {newest ? (feed.searchedDown ? 'Search older events' : 'Older events') : 'Load more'}
        </button>
      )}
    </section>
  )
}
