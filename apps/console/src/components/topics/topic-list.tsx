'use client'

import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query'
import Link from 'next/link'
import { useRouter } from 'next/navigation'
import { useState } from 'react'
import { Pager, SortHeader, type Sorting, useSettled } from '@/components/lists/list-controls'
import { ScrollBox } from '@/components/scroll-box'
import { ErrorNote, Loading, PageHeader } from '@/components/states'
import { formatBytes, formatDuration, formatNumber, formatRate } from '@/lib/format'
import { trpc } from '@/lib/trpc'
import { useEscape } from '@/lib/use-escape'
import { TopicForm } from './topic-form'
import { checkCreate, EMPTY_TOPIC } from './topic-values'

type TopicSort = 'name' | 'partitions' | 'events' | 'size' | 'rate' | 'created'
type Kind = 'all' | 'topics' | 'dead-letters'
const LIMIT = 50

/**
 * Every topic, a page at a time: the broker searches, filters, sorts and counts, and answers
 * each page with one query, so a cluster of thousands of topics lists as fast as one of ten.
 */
export function TopicList() {
  const [creating, setCreating] = useState(false)
  const opener = useEscape(creating, () => setCreating(false))
  const [search, setSearch] = useState('')
  const [kind, setKind] = useState<Kind>('all')
  const [sorting, setSorting] = useState<Sorting<TopicSort>>({ sort: 'name', desc: false })
  const [offset, setOffset] = useState(0)
  const settled = useSettled(search.trim())
  const router = useRouter()
  const qc = useQueryClient()
  const input = { search: settled, kind, ...sorting, offset, limit: LIMIT }
  const topics = useQuery({
    queryKey: ['topics.page', input],
    queryFn: () => trpc.topics.page.query(input),
    refetchInterval: 3000,
    placeholderData: keepPreviousData,
  })
  const sortBy = (s: Sorting<TopicSort>) => {
    setSorting(s)
    setOffset(0)
  }
  const data = topics.data

  return (
    <>
      <PageHeader title="Topics">
        {!creating && (
          <button type="button" className="primary" ref={opener} onClick={() => setCreating(true)}>
            New topic
          </button>
        )}
      </PageHeader>
      {creating && (
        <section className="panel">
          <h2>New topic</h2>
          <TopicForm
            mode="create"
            initial={EMPTY_TOPIC}
            onCancel={() => setCreating(false)}
            onSubmit={async (values) => {
              const checked = checkCreate(values)
              if (!checked.ok) return checked.errors
              const created = await trpc.topics.create.mutate(checked.input)
              await qc.invalidateQueries({ queryKey: ['topics.page'] })
              router.push(`/topics/${encodeURIComponent(created.name)}`)
              return null
            }}
          />
        </section>
      )}
      <search className="toolbar list-filters" aria-label="Find topics">
        <div className="field">
          <label htmlFor="topic-search">Search</label>
          <input
            id="topic-search"
            type="search"
            value={search}
            placeholder="part of a name"
            onChange={(e) => {
              setSearch(e.target.value)
              setOffset(0)
            }}
          />
        </div>
        <div className="field">
          <label htmlFor="topic-kind">Show</label>
          <select
            id="topic-kind"
            value={kind}
            onChange={(e) => {
              setKind(e.target.value as Kind)
              setOffset(0)
            }}
          >
            <option value="all">all topics</option>
            <option value="topics">without dead-letter topics</option>
            <option value="dead-letters">dead-letter topics only</option>
          </select>
        </div>
      </search>
      {topics.error && <ErrorNote error={topics.error} title="The topics cannot load." />}
      {topics.isPending && <Loading what="topics" />}
      {data?.total === 0 && settled === '' && kind === 'all' && (
        <div className="empty">
          <h2>No topics yet</h2>
          Create one with “New topic”, or publish from an SDK after creating it over the API.
        </div>
      )}
      {data && (data.total > 0 || settled !== '' || kind !== 'all') && (
        <>
          <ScrollBox as="div" className="table-scroll">
            <table data-testid="topics-table">
              <thead>
                <tr>
                  <SortHeader field="name" sorting={sorting} onSort={sortBy}>
                    Name
                  </SortHeader>
                  <SortHeader field="partitions" sorting={sorting} onSort={sortBy} numeric>
                    Partitions
                  </SortHeader>
                  <SortHeader field="events" sorting={sorting} onSort={sortBy} numeric>
                    Events
                  </SortHeader>
                  <SortHeader field="size" sorting={sorting} onSort={sortBy} numeric>
                    Size
                  </SortHeader>
                  <SortHeader field="rate" sorting={sorting} onSort={sortBy} numeric>
                    Rate
                  </SortHeader>
                  <th>Retention</th>
                  <th>Dedupe window</th>
                </tr>
              </thead>
              <tbody>
                {data.rows.map((t) => {
                  const retention = [
                    t.retentionMs === null ? null : formatDuration(t.retentionMs),
                    t.retentionBytes === null ? null : formatBytes(t.retentionBytes),
                  ].filter(Boolean)
                  return (
                    <tr key={t.name} data-topic={t.name}>
                      <td className="wrap">
                        <Link href={`/topics/${encodeURIComponent(t.name)}`}>{t.name}</Link>
                        {t.deadLetterOf !== null && (
                          <>
                            {' '}
                            <Link
                              className="badge degraded"
                              href={`/subscriptions/${encodeURIComponent(t.deadLetterOf)}`}
                              title={`The dead-letter topic of subscription ${t.deadLetterOf}`}
                            >
                              DLQ
                            </Link>
                          </>
                        )}
                      </td>
                      <td className="num">{t.partitions}</td>
                      <td className="num">{formatNumber(t.events)}</td>
                      <td className="num">{formatBytes(t.sizeBytes)}</td>
                      <td className="num">{formatRate(t.ratePerSecond)}</td>
                      <td>{retention.length ? retention.join(' or ') : 'forever'}</td>
                      <td>{formatDuration(t.dedupeWindowMs)}</td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </ScrollBox>
          <Pager
            offset={data.offset}
            limit={LIMIT}
            total={data.total}
            shown={data.rows.length}
            what="topics"
            onOffset={setOffset}
          />
        </>
      )}
    </>
  )
}
