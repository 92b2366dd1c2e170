'use client'

import { useQuery } from '@tanstack/react-query'
import { useState } from 'react'
import { formatBytes, formatDuration } from '@/lib/format'
import { trpc } from '@/lib/trpc'
import { ErrorNote, Loading, PageHeader } from './states'
import { TimeChart } from './time-chart'

const WINDOWS = [
  { value: '5m', label: '5 min', refreshMs: 1000 },
  { value: '1h', label: '1 h', refreshMs: 5000 },
  { value: '24h', label: '24 h', refreshMs: 30_000 },
] as const

type Window = (typeof WINDOWS)[number]['value']

export function Overview() {
  const [window, setWindow] = useState<Window>('5m')
  const refreshMs = WINDOWS.find((w) => w.value === window)!.refreshMs
  const stats = useQuery({
    queryKey: ['stats.series', window],
    queryFn: () => trpc.stats.series.query({ window }),
    refetchInterval: refreshMs,
  })
  const health = useQuery({
    queryKey: ['health'],
    queryFn: () => trpc.health.query(),
    refetchInterval: 2000,
  })
  const points = stats.data?.points ?? []
  const last = points.at(-1)
  return (
    <>
      <PageHeader title="Overview">
        <fieldset className="segmented" aria-label="Time window" style={{ padding: 0, margin: 0 }}>
          {WINDOWS.map((w) => (
            <button
              key={w.value}
              type="button"
              aria-pressed={window === w.value}
              onClick={() => setWindow(w.value)}
            >
              {w.label}
            </button>
          ))}
        </fieldset>
      </PageHeader>
      {health.error && <ErrorNote error={health.error} />}
      <div className="cards">
        <Card label="Status" value={health.data?.status ?? '…'} />
        <Card label="Uptime" value={health.data ? formatDuration(health.data.uptime * 1000) : '…'} />
        <Card label="Events in / s" value={last ? String(last.eventsInPerSec) : '…'} />
        <Card label="Events out / s" value={last ? String(last.eventsOutPerSec) : '…'} />
        <Card label="Open streams" value={health.data ? String(health.data.open_streams) : '…'} />
        <Card label="Memory" value={health.data ? formatBytes(health.data.memory_rss_bytes) : '…'} />
      </div>
      {stats.error && !stats.data && <ErrorNote error={stats.error} title="The charts cannot load." />}
      {stats.isPending && <Loading what="health over time" />}
      {stats.data && points.length === 0 && (
        <div className="empty">Collecting the first samples: the charts fill in within a few seconds.</div>
      )}
      {points.length > 0 && (
        <div className="grid">
          <TimeChart
            id="events"
            title="Events per second"
            unit="events/s"
            points={points}
            series={[
              { key: 'eventsInPerSec', name: 'in (published)', color: '#4f46e5' },
              { key: 'eventsOutPerSec', name: 'out (read, streamed)', color: '#0d9488' },
            ]}
          />
          <TimeChart
            id="publish-latency"
            title="Publish latency (accept → commit)"
            unit="ms"
            points={points}
            series={[
              { key: 'publishP50Ms', name: 'p50', color: '#2563eb' },
              { key: 'publishP99Ms', name: 'p99', color: '#dc2626' },
            ]}
          />
          <TimeChart
            id="db-latency"
            title="Database latency"
            unit="ms"
            points={points}
            series={[{ key: 'dbLatencyMs', name: 'round trip', color: '#7c3aed' }]}
          />
          <TimeChart
            id="errors"
            title="Error rate"
            unit="errors/s"
            points={points}
            series={[{ key: 'errorsPerSec', name: 'refused requests', color: '#b91c1c' }]}
          />
          <TimeChart
            id="loop-lag"
            title="Broker responsiveness (event-loop delay)"
            unit="ms"
            points={points}
            series={[{ key: 'loopLagMs', name: 'worst delay', color: '#b45309' }]}
          />
          <TimeChart
            id="consumer-lag"
            title="Consumer lag"
            unit="events"
            points={points}
            series={[
              { key: 'lagTotal', name: 'all subscriptions', color: '#0369a1' },
              {
                key: 'worstLag',
                name: last?.worstSubscription ? `worst: ${last.worstSubscription}` : 'worst subscription',
                color: '#ea580c',
              },
            ]}
          />
        </div>
      )}
    </>
  )
}

function Card({ label, value }: { label: string; value: string }) {
  return (
    <div className="card">
      <div className="label">{label}</div>
      <div className="value">{value}</div>
    </div>
  )
}
