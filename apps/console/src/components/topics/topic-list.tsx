'use client'

import type { TopicInfo } from '@questlog/protocol'
import { useQuery, useQueryClient } from '@tanstack/react-query'
import Link from 'next/link'
import { useRouter } from 'next/navigation'
import { useState } from 'react'
import { ErrorNote, Loading, PageHeader } from '@/components/states'
import { formatBytes, formatDuration, formatNumber } from '@/lib/format'
import { trpc } from '@/lib/trpc'
import { TopicForm } from './topic-form'
import { checkCreate, EMPTY_TOPIC } from './topic-values'

export function TopicList() {
  const [creating, setCreating] = useState(false)
  const router = useRouter()
  const qc = useQueryClient()
  const topics = useQuery({
    queryKey: ['topics.list'],
    queryFn: () => trpc.topics.list.query(),
    refetchInterval: 3000,
  })

  return (
    <>
      <PageHeader title="Topics">
        {!creating && (
          <button type="button" className="primary" onClick={() => setCreating(true)}>
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
              await qc.invalidateQueries({ queryKey: ['topics.list'] })
              router.push(`/topics/${encodeURIComponent(created.name)}`)
              return null
            }}
          />
        </section>
      )}
      {topics.error && <ErrorNote error={topics.error} title="The topics cannot load." />}
      {topics.isPending && <Loading what="topics" />}
      {topics.data?.length === 0 && (
        <div className="empty">
          <h2>No topics yet</h2>
          Create one with “New topic”, or publish from an SDK after creating it over the API.
        </div>
      )}
      {topics.data && topics.data.length > 0 && (
        <table data-testid="topics-table">
          <thead>
            <tr>
              <th>Name</th>
              <th className="num">Partitions</th>
              <th className="num">Events</th>
              <th className="num">Size</th>
              <th>Retention</th>
              <th>Dedupe window</th>
            </tr>
          </thead>
          <tbody>
            {topics.data.map((t) => (
              <TopicRow key={t.name} topic={t} />
            ))}
          </tbody>
        </table>
      )}
    </>
  )
}

/** One row; counts and size come from the topic's own description, refreshed live. */
function TopicRow({ topic }: { topic: TopicInfo }) {
  const info = useQuery({
    queryKey: ['topics.get', topic.name],
    queryFn: () => trpc.topics.get.query({ name: topic.name }),
    refetchInterval: 3000,
  })
  const retention = [
    topic.retentionMs === null ? null : formatDuration(topic.retentionMs),
    topic.retentionBytes === null ? null : formatBytes(topic.retentionBytes),
  ].filter(Boolean)
  return (
    <tr data-topic={topic.name}>
      <td>
        <Link href={`/topics/${encodeURIComponent(topic.name)}`}>{topic.name}</Link>
      </td>
      <td className="num">{topic.partitions}</td>
      <td className="num">{formatNumber(info.data?.events)}</td>
      <td className="num">{formatBytes(info.data?.sizeBytes)}</td>
      <td>{retention.length ? retention.join(' or ') : 'forever'}</td>
      <td>{formatDuration(topic.dedupeWindowMs)}</td>
    </tr>
  )
}
