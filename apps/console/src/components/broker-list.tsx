'use client'

import { useQuery } from '@tanstack/react-query'
import { formatBytes, formatDuration } from '@/lib/format'
import { trpc } from '@/lib/trpc'
import { ErrorNote, Loading, PageHeader } from './states'

/** The broker node this console talks to, live from its health report. */
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
      {health.error && (
        <ErrorNote
          error={health.error}
          title={h ? 'The broker stopped answering; last known state below.' : undefined}
        />
      )}
      {health.isPending && <Loading what="the broker's health" />}
      {h && (
        <>
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
          <p className="muted">
            This broker reports on itself; other brokers sharing its database will be listed here once brokers
            register their heartbeats.
          </p>
          <section className="panel">
            <h2>Health report</h2>
            <pre className="json" data-testid="health-json">
              {JSON.stringify(h, null, 2)}
            </pre>
          </section>
        </>
      )}
    </>
  )
}
