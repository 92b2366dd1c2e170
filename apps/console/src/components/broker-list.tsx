'use client'

import { useQuery } from '@tanstack/react-query'
import { ScrollBox } from '@/components/scroll-box'
import { Time } from '@/components/time'
import { formatBytes, formatDuration } from '@/lib/format'
import { trpc } from '@/lib/trpc'
import { ErrorNote, Loading, PageHeader } from './states'

/** Every broker of the cluster from the registry, with its last heartbeat's health. */
function ClusterTable({ self }: { self: string | undefined }) {
  const brokers = useQuery({
    queryKey: ['brokers'],
    queryFn: () => trpc.brokers.query(),
    refetchInterval: 2000,
  })
  if (brokers.error) return <ErrorNote error={brokers.error} title="The cluster's brokers cannot load." />
  if (!brokers.data) return <Loading what="the cluster's brokers" />
  return (
    <section className="panel" aria-labelledby="cluster-heading">
      <h2 id="cluster-heading">Cluster</h2>
      <ScrollBox as="div" className="table-scroll">
        <table data-testid="cluster-table">
          <thead>
            <tr>
              <th>Broker</th>
              <th>URL</th>
              <th>State</th>
              <th>Health</th>
              <th className="num">Load</th>
              <th className="num">Event-loop delay</th>
              <th className="num">Database latency</th>
              <th className="num">Connections</th>
              <th>Started</th>
              <th>Last heartbeat</th>
            </tr>
          </thead>
          <tbody>
            {brokers.data.map((b) => (
              <tr key={b.id} data-broker={b.id} data-state={b.state}>
                <td className="mono wrap">
                  {b.id}
                  {b.id === self && <span className="muted"> (this console's)</span>}
                </td>
                <td className="mono wrap">{b.url}</td>
                <td>
                  <span
                    className={`badge ${b.state === 'live' ? 'ok' : b.state === 'stopped' ? 'degraded' : 'down'}`}
                  >
                    {b.state}
                  </span>
                </td>
                <td>
                  <span className={`badge ${b.health.status}`}>{b.health.status}</span>
                </td>
                <td className="num">{b.health.load}</td>
                <td className="num">{b.health.lag_ms} ms</td>
                <td className="num">
                  {b.health.db_latency_ms === null ? 'no answer' : `${b.health.db_latency_ms} ms`}
                </td>
                <td className="num">{b.health.connections}</td>
                <td className="nowrap">
                  <Time value={b.startedAt} />
                </td>
                <td className="nowrap">
                  <Time value={b.lastSeenAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollBox>
    </section>
  )
}

/** The brokers of the cluster, and the one this console talks to in detail, live from its health report. */
export function BrokerList() {
  const health = useQuery({
    queryKey: ['health'],
    queryFn: () => trpc.health.query(),
    refetchInterval: 2000,
  })
  const h = health.data
  return (
    <>
      <PageHeader title="Brokers" />
      {h && !health.error && <ClusterTable self={h.brokerId} />}
      {health.error && (
        <ErrorNote
          error={health.error}
          title={h ? 'The broker stopped answering; last known state below.' : undefined}
        />
      )}
      {health.isPending && <Loading what="the broker's health" />}
      {h && (
        <>
          <h2>This console's broker</h2>
          <ScrollBox as="div" className="table-scroll">
            <table data-testid="brokers-table">
              <thead>
                <tr>
                  <th>Broker</th>
                  <th>Status</th>
                  <th>Version</th>
                  <th className="num">Uptime</th>
                  <th className="num">Load (1, 5, 15 min)</th>
                  <th className="num">Event-loop delay</th>
                  <th className="num">Database latency</th>
                  <th className="num">Disk free</th>
                  <th className="num">Open streams</th>
                  <th className="num">Memory</th>
                </tr>
              </thead>
              <tbody>
                <tr>
                  <td className="mono">{h.brokerId}</td>
                  <td>
                    <span className={`badge ${h.status}`} data-testid="broker-status">
                      {h.status}
                    </span>
                  </td>
                  <td>{h.version}</td>
                  <td className="num">{formatDuration(h.uptime * 1000)}</td>
                  <td className="num">{h.load.join(', ')}</td>
                  <td className="num">{h.lag_ms} ms</td>
                  <td className="num">{h.db_latency_ms === null ? 'no answer' : `${h.db_latency_ms} ms`}</td>
                  <td className="num">{h.disk_free_pct === null ? '—' : `${h.disk_free_pct} %`}</td>
                  <td className="num">{h.open_streams}</td>
                  <td className="num">{formatBytes(h.memory_rss_bytes)}</td>
                </tr>
              </tbody>
            </table>
          </ScrollBox>
          <section className="panel">
            <h2>Health report</h2>
            <ScrollBox className="json" testId="health-json">
              {JSON.stringify(h, null, 2)}
            </ScrollBox>
          </section>
        </>
      )}
    </>
  )
}
