'use client'

import { useQuery, useQueryClient } from '@tanstack/react-query'
import Link from 'next/link'
import { useRouter } from 'next/navigation'
import { useState } from 'react'
import { ErrorNote, Loading, PageHeader } from '@/components/states'
import { describeError, questlogError } from '@/lib/errors'
import { formatBytes, formatDuration, formatNumber } from '@/lib/format'
import { trpc } from '@/lib/trpc'
import { useEscape } from '@/lib/use-escape'
import { MessageBrowser } from './message-browser'
import { PresencePanel } from './presence-panel'
import { ProduceForm } from './produce-form'
import { TopicForm } from './topic-form'
import { checkUpdate, valuesOf } from './topic-values'

export function TopicPage({ name }: { name: string }) {
  const [editing, setEditing] = useState(false)
  const [producing, setProducing] = useState(false)
  useEscape(editing || producing, () => {
    setEditing(false)
    setProducing(false)
  })
  const qc = useQueryClient()
  const router = useRouter()
  const topic = useQuery({
    queryKey: ['topics.get', name],
    queryFn: () => trpc.topics.get.query({ name }),
    refetchInterval: 2000,
  })

  if (topic.isPending) return <Loading what={`topic ${name}`} />
  if (topic.error && !topic.data) {
    return (
      <>
        <PageHeader title={name} />
        <ErrorNote
          error={topic.error}
          title={questlogError(topic.error)?.code === 'topic_not_found' ? 'No such topic.' : undefined}
        />
        <Link href="/topics">Back to the topics</Link>
      </>
    )
  }
  const t = topic.data
  const refresh = () => qc.invalidateQueries({ queryKey: ['topics.get', name] })

  async function remove() {
    if (!window.confirm(`Delete topic ${name} and all its events? This cannot be undone.`)) return
    try {
      await trpc.topics.delete.mutate({ name })
      await qc.invalidateQueries({ queryKey: ['topics.page'] })
      router.push('/topics')
    } catch (e) {
      window.alert(describeError(e))
    }
  }

  return (
    <>
      <PageHeader title={t.name}>
        <button type="button" className="primary" onClick={() => setProducing(!producing)}>
          Produce a test event
        </button>
        <button type="button" onClick={() => setEditing(!editing)}>
          Edit settings
        </button>
        <button type="button" onClick={remove}>
          Delete
        </button>
      </PageHeader>
      {topic.error && <ErrorNote error={topic.error} title="Showing the last known state." />}
      <div className="cards">
        <Card label="Partitions" value={String(t.partitions)} />
        <Card label="Events stored" value={formatNumber(t.events)} testId="topic-events" />
        <Card label="Size" value={formatBytes(t.sizeBytes)} />
        <Card
          label="Retention"
          value={t.retentionMs === null && t.retentionBytes === null ? 'forever' : formatRetention(t)}
        />
        <Card label="Dedupe window" value={formatDuration(t.dedupeWindowMs)} />
        <Card label="Largest event" value={formatBytes(t.maxEventBytes)} />
        <Card
          label="Cleanup"
          value={
            t.cleanup === 'delete'
              ? 'delete'
              : `${t.cleanup} · tombstones kept ${formatDuration(t.deleteRetentionMs)}`
          }
          testId="topic-cleanup"
        />
      </div>
      {editing && (
        <section className="panel">
          <h2>Settings</h2>
          <TopicForm
            mode="edit"
            initial={valuesOf(t)}
            onCancel={() => setEditing(false)}
            onSubmit={async (values) => {
              const checked = checkUpdate(values, t)
              if (!checked.ok) return checked.errors
              await trpc.topics.update.mutate({ name, patch: checked.patch })
              await refresh()
              setEditing(false)
              return null
            }}
          />
        </section>
      )}
      {producing && (
        <section className="panel">
          <h2>Produce a test event</h2>
          <ProduceForm topic={t.name} partitions={t.partitions} onProduced={refresh} />
        </section>
      )}
      <section className="panel">
        <h2>Partitions</h2>
        <table data-testid="partitions-table">
          <thead>
            <tr>
              <th>Partition</th>
              <th className="num">Earliest offset</th>
              <th className="num">Next offset</th>
              <th className="num">Events</th>
            </tr>
          </thead>
          <tbody>
            {(t.partitionInfo ?? []).map((p) => (
              <tr key={p.partition}>
                <td>{p.partition}</td>
                <td className="num">{p.earliest}</td>
                <td className="num">{p.next}</td>
                <td className="num">{formatNumber(Number(p.next) - Number(p.earliest))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <PresencePanel channel={t.name} />
      <MessageBrowser topic={t.name} partitions={t.partitions} />
    </>
  )
}

function formatRetention(t: { retentionMs: number | null; retentionBytes: number | null }): string {
  return [
    t.retentionMs === null ? null : formatDuration(t.retentionMs),
    t.retentionBytes === null ? null : formatBytes(t.retentionBytes),
  ]
    .filter(Boolean)
    .join(' or ')
}

function Card({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div className="card" data-testid={testId}>
      <div className="label">{label}</div>
      <div className="value">{value}</div>
    </div>
  )
}
