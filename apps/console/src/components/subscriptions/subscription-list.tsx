'use client'

import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query'
import Link from 'next/link'
import { useRouter } from 'next/navigation'
import { useState } from 'react'
import { Pager, SortHeader, type Sorting, useSettled } from '@/components/lists/list-controls'
import { ScrollBox } from '@/components/scroll-box'
import { ErrorNote, Loading, PageHeader } from '@/components/states'
import { formatLagSeconds, formatNumber } from '@/lib/format'
import { trpc } from '@/lib/trpc'
import { useEscape } from '@/lib/use-escape'
import { SubscriptionForm } from './subscription-form'

type SubSort = 'name' | 'topic' | 'lag' | 'lagSeconds' | 'pending' | 'deadLetters' | 'created'
type Mode = 'all' | 'stream' | 'queue'
type State = 'all' | 'active' | 'paused' | 'lagging' | 'dead-letters'
const LIMIT = 50

/** Every subscription a page at a time, with its lag in events and in seconds, searched and sorted by the broker. */
export function SubscriptionList() {
  const [creating, setCreating] = useState(false)
  const opener = useEscape(creating, () => setCreating(false))
  const [search, setSearch] = useState('')
  const [mode, setMode] = useState<Mode>('all')
  const [state, setState] = useState<State>('all')
  const [sorting, setSorting] = useState<Sorting<SubSort>>({ sort: 'name', desc: false })
  const [offset, setOffset] = useState(0)
  const settled = useSettled(search.trim())
  const router = useRouter()
  const qc = useQueryClient()
  const input = { search: settled, mode, state, ...sorting, offset, limit: LIMIT }
  const subs = useQuery({
    queryKey: ['subscriptions.page', input],
    queryFn: () => trpc.subscriptions.page.query(input),
    refetchInterval: 2000,
    placeholderData: keepPreviousData,
  })
  const sortBy = (s: Sorting<SubSort>) => {
    setSorting(s)
    setOffset(0)
  }
  const filtered = settled !== '' || mode !== 'all' || state !== 'all'
  const data = subs.data

  return (
    <>
      <PageHeader title="Subscriptions">
        {!creating && (
          <button type="button" className="primary" ref={opener} onClick={() => setCreating(true)}>
            New subscription
          </button>
        )}
      </PageHeader>
      {creating && (
        <section className="panel">
          <h2>New subscription</h2>
          <SubscriptionForm
            onCancel={() => setCreating(false)}
            onCreate={async (created) => {
              const sub = await trpc.subscriptions.create.mutate(created)
              await qc.invalidateQueries({ queryKey: ['subscriptions.page'] })
              router.push(`/subscriptions/${encodeURIComponent(sub.name)}`)
            }}
          />
        </section>
      )}
      <search className="toolbar list-filters" aria-label="Find subscriptions">
        <div className="field">
          <label htmlFor="sub-search">Search</label>
          <input
            id="sub-search"
            type="search"
            value={search}
            placeholder="part of a name or topic"
            onChange={(e) => {
              setSearch(e.target.value)
              setOffset(0)
            }}
          />
        </div>
        <div className="field">
          <label htmlFor="subs-filter-mode">Mode</label>
          <select
            id="subs-filter-mode"
            value={mode}
            onChange={(e) => {
              setMode(e.target.value as Mode)
              setOffset(0)
            }}
          >
            <option value="all">any</option>
            <option value="stream">stream</option>
            <option value="queue">queue</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="sub-state">State</label>
          <select
            id="sub-state"
            value={state}
            onChange={(e) => {
              setState(e.target.value as State)
              setOffset(0)
            }}
          >
            <option value="all">any</option>
            <option value="active">active</option>
            <option value="paused">paused</option>
            <option value="lagging">lagging</option>
            <option value="dead-letters">with dead letters</option>
          </select>
        </div>
      </search>
      {subs.error && <ErrorNote error={subs.error} title="The subscriptions cannot load." />}
      {subs.isPending && <Loading what="subscriptions" />}
      {data?.total === 0 && !filtered && (
        <div className="empty">
          <h2>No subscriptions yet</h2>
          Create one with “New subscription”, or from an SDK: consumers then pull and ack its events.
        </div>
      )}
      {data && (data.total > 0 || filtered) && (
        <>
          <ScrollBox as="div" className="table-scroll">
            <table data-testid="subscriptions-table">
              <thead>
                <tr>
                  <SortHeader field="name" sorting={sorting} onSort={sortBy}>
                    Name
                  </SortHeader>
                  <SortHeader field="topic" sorting={sorting} onSort={sortBy}>
                    Topic
                  </SortHeader>
                  <th>Mode</th>
                  <th className="num">Members</th>
                  <SortHeader field="lag" sorting={sorting} onSort={sortBy} numeric>
                    Lag (events)
                  </SortHeader>
                  <SortHeader field="lagSeconds" sorting={sorting} onSort={sortBy} numeric>
                    Lag (time)
                  </SortHeader>
                  <SortHeader field="pending" sorting={sorting} onSort={sortBy} numeric>
                    Pending
                  </SortHeader>
                  <SortHeader field="deadLetters" sorting={sorting} onSort={sortBy} numeric>
                    Dead letters
                  </SortHeader>
                  <th>State</th>
                </tr>
              </thead>
              <tbody>
                {data.rows.map((s) => (
                  <tr key={s.name} data-subscription={s.name}>
                    <td className="wrap">
                      <Link href={`/subscriptions/${encodeURIComponent(s.name)}`}>{s.name}</Link>
                    </td>
                    <td className="mono wrap">{s.topic}</td>
                    <td>{s.mode}</td>
                    <td className="num">{s.mode === 'stream' ? s.members : '—'}</td>
                    <td className="num">{formatNumber(s.lag)}</td>
                    <td className="num" data-testid="lag-seconds">
                      {formatLagSeconds(s.lagSeconds)}
                    </td>
                    <td className="num">{s.mode === 'queue' ? formatNumber(s.pending) : '—'}</td>
                    <td className="num">
                      {s.deadLetters ? (
                        <Link href={`/subscriptions/${encodeURIComponent(s.name)}#dead-letters`}>
                          {formatNumber(s.deadLetters)}
                        </Link>
                      ) : (
                        formatNumber(s.deadLetters)
                      )}
                    </td>
                    <td>
                      <span className={`badge ${s.paused ? 'degraded' : 'ok'}`}>
                        {s.paused ? 'paused' : 'active'}
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollBox>
          <Pager
            offset={data.offset}
            limit={LIMIT}
            total={data.total}
            shown={data.rows.length}
            what="subscriptions"
            onOffset={setOffset}
          />
        </>
      )}
    </>
  )
}
