'use client'

import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { ScrollBox } from '@/components/scroll-box'
import { ErrorNote, Loading, PageHeader } from '@/components/states'
import { Time } from '@/components/time'
import { formatNumber, formatTime } from '@/lib/format'
import { type TimeZoneChoice, useTimeZoneChoice } from '@/lib/time-zone'
import { trpc } from '@/lib/trpc'
import { useEscape } from '@/lib/use-escape'
import { ReplayForm } from './replay-form'

type Job = Awaited<ReturnType<typeof trpc.replays.list.query>>[number]

const active = (j: Job) => j.status === 'pending' || j.status === 'running'

/** Replay jobs, newest first: the running ones with a live progress bar, then the history. */
export function ReplayList() {
  const [creating, setCreating] = useState(false)
  const opener = useEscape(creating, () => setCreating(false))
  const [actionError, setActionError] = useState<unknown>(null)
  const qc = useQueryClient()
  const jobs = useQuery({
    queryKey: ['replays.list'],
    queryFn: () => trpc.replays.list.query(),
    // fast while a job moves, slow when all are settled
    refetchInterval: (q) => (q.state.data?.some(active) ? 500 : 3000),
  })
  const sorted = [...(jobs.data ?? [])].sort((a, b) => b.createdAt.localeCompare(a.createdAt))

  async function cancel(id: string) {
    try {
      await trpc.replays.cancel.mutate({ id })
      setActionError(null)
    } catch (e) {
      setActionError(e)
    }
    await qc.invalidateQueries({ queryKey: ['replays.list'] })
  }

  return (
    <>
      <PageHeader title="Replay jobs">
        {!creating && (
          <button type="button" className="primary" ref={opener} onClick={() => setCreating(true)}>
            New replay job
          </button>
        )}
      </PageHeader>
      {creating && (
        <section className="panel">
          <h2>New replay job</h2>
          <ReplayForm
            onCancel={() => setCreating(false)}
            onStart={async (input) => {
              await trpc.replays.create.mutate(input)
              await qc.invalidateQueries({ queryKey: ['replays.list'] })
              setCreating(false)
            }}
          />
        </section>
      )}
      {actionError !== null && <ErrorNote error={actionError} title="The job could not be cancelled." />}
      {jobs.error && <ErrorNote error={jobs.error} title="The replay jobs cannot load." />}
      {jobs.isPending && <Loading what="replay jobs" />}
      {jobs.data?.length === 0 && (
        <div className="empty">
          <h2>No replay jobs yet</h2>
          Replay a range of a topic, by offset or time, into a subscription or another topic with “New replay
          job”.
        </div>
      )}
      {sorted.length > 0 && (
        <ScrollBox as="div" className="table-scroll">
          <table data-testid="replays-table">
            <thead>
              <tr>
                <th>Started</th>
                <th>Topic</th>
                <th>Range · filter</th>
                <th>Into</th>
                <th>Status</th>
                <th style={{ width: 220 }}>Progress</th>
                <th className="num">Scanned</th>
                <th className="num">Delivered</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {sorted.map((j) => (
                <JobRow key={j.id} job={j} onCancel={() => cancel(j.id)} />
              ))}
            </tbody>
          </table>
        </ScrollBox>
      )}
    </>
  )
}

/** The range replayed; a time range with dates and zone, since a job may be read days after it ran. */
function describeRange(j: Job, zone: TimeZoneChoice): string {
  const s = j.spec
  const range =
    s.since !== undefined || s.until !== undefined
      ? `${s.since === undefined ? 'start' : formatTime(s.since, zone)} → ${s.until === undefined ? 'now' : formatTime(s.until, zone)}`
      : `#${s.fromOffset ?? 0} → ${s.toOffset === undefined ? 'end' : `#${s.toOffset}`}`
  const parts = [range, s.partition === undefined ? null : `partition ${s.partition}`]
  if (s.filter.type) parts.push(`type ${s.filter.type}`)
  if (s.filter.key !== undefined) parts.push(`key ${s.filter.key}`)
  if (s.maxEventsPerSecond) parts.push(`${s.maxEventsPerSecond}/s`)
  return parts.filter(Boolean).join(' · ')
}

function JobRow({ job: j, onCancel }: { job: Job; onCancel(): void }) {
  const zone = useTimeZoneChoice()
  const badge =
    j.status === 'done' ? 'ok' : j.status === 'failed' || j.status === 'cancelled' ? 'down' : 'degraded'
  const target =
    'subscription' in j.spec.target
      ? `subscription ${j.spec.target.subscription}`
      : `topic ${j.spec.target.topic}`
  return (
    <tr data-replay={j.id} data-status={j.status}>
      <td className="nowrap">
        <Time value={j.createdAt} />
      </td>
      <td className="mono wrap">{j.topic}</td>
      <td className="wrap">{describeRange(j, zone)}</td>
      <td className="wrap">{target}</td>
      <td>
        <span className={`badge ${badge}`} data-testid="replay-status" title={j.error ?? undefined}>
          {j.status}
        </span>
        {j.error && <div className="field-error">{j.error}</div>}
      </td>
      <td>
        <div
          className="progress"
          role="progressbar"
          aria-label={`Progress of the replay of ${j.topic}`}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={j.percent}
        >
          <div className={`bar ${j.status}`} style={{ width: `${j.percent}%` }} />
          <span>{j.percent} %</span>
        </div>
      </td>
      <td className="num">
        {formatNumber(j.scanned)} / {formatNumber(j.total)}
      </td>
      <td className="num">{formatNumber(j.delivered)}</td>
      <td>
        {active(j) && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </td>
    </tr>
  )
}
