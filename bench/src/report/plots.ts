import type { LatencyRow } from '../scenarios/latency'
import type { ThroughputRow } from '../scenarios/throughput'
import { si } from './format'
import { lineChart } from './svg'

export function throughputVsBatch(rows: ThroughputRow[]): string {
  const systems = [...new Set(rows.map((r) => r.system))]
  return lineChart({
    title: 'Producer throughput vs batch size (8 partitions, 8 producers, 200 B)',
    xLabel: 'events per batch (HTTP request / pipeline / publishes in flight), log scale',
    yLabel: 'events/s (median)',
    xLog: true,
    yFormat: si,
    series: systems.map((s) => ({
      name: s,
      points: rows
        .filter((r) => r.system === s)
        .map((r): [number, number] => [r.case.batch, r.eventsPerSecond.median])
        .sort((a, b) => a[0] - b[0]),
    })),
  })
}

/** CDF of the rate closest to 5k/s, one line per system. */
export function latencyCdf(rows: LatencyRow[]): string {
  const rates = [...new Set(rows.map((r) => r.rate))]
  const rate = rates.sort((a, b) => Math.abs(a - 5000) - Math.abs(b - 5000))[0]
  return lineChart({
    title: `Publish → consumer latency CDF at ${si(rate ?? 0)} events/s (200 B, 1 partition)`,
    xLabel: 'latency, ms (log scale)',
    yLabel: 'fraction of events at or below',
    xLog: true,
    yMin: 0,
    yMax: 1,
    series: rows
      .filter((r) => r.rate === rate)
      .map((r) => ({
        name: r.system,
        points: r.cdf,
      })),
  })
}
