import type { BenchOptions } from '../options'
import { eventJson } from '../payload'
import { cdfPoints, percentileSorted, type Spread, spread } from '../stats'
import type { LatencyTarget } from '../systems/types'

export interface LatencyRun {
  sent: number
  received: number
  /** Sorted ascending, milliseconds. */
  latencies: number[]
}

export interface LatencyRow {
  system: string
  durability: string
  rate: number
  p50: Spread
  p99: Spread
  p999: Spread
  max: Spread
  /** Share of sent events received, worst repetition. */
  deliveredMin: number
  /** CDF points (ms, fraction) of the median-p99 repetition, for the plot. */
  cdf: Array<[number, number]>
}

const log = (s: string) => process.stderr.write(`${s}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Publishes at a fixed rate (a batch every millisecond tick holding the events
 * due by then, each stamped with its send time) for `seconds`, and records
 * publish → consumer latency of every event received.
 */
export async function runLatency(
  target: LatencyTarget,
  rate: number,
  seconds: number,
  eventBytes: number,
): Promise<LatencyRun> {
  const latencies: number[] = []
  const live = await target.openLive(eventBytes, (sentAt) => latencies.push(performance.now() - sentAt))
  let sent = 0
  const inFlight = new Set<Promise<void>>()
  let failure: unknown
  try {
    const start = performance.now()
    const end = start + seconds * 1000
    while (performance.now() < end && failure === undefined) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate) - sent
      if (due > 0) {
        const now = performance.now()
        const events = Array.from({ length: due }, (_, i) => eventJson(eventBytes, sent + i, now))
        sent += due
        const p = live.publish(events).catch((e) => {
          failure = e
        })
        inFlight.add(p)
        void p.finally(() => inFlight.delete(p))
      }
      await sleep(1)
    }
    await Promise.all(inFlight)
    if (failure !== undefined) throw failure
    const waitUntil = performance.now() + 3000
    while (latencies.length < sent && performance.now() < waitUntil) await sleep(10)
  } finally {
    await live.close()
  }
  return { sent, received: latencies.length, latencies: latencies.sort((a, b) => a - b) }
}

export async function measureLatency(
  targets: LatencyTarget[],
  o: Pick<BenchOptions, 'reps' | 'rates' | 'latencySeconds'>,
  eventBytes = 200,
): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = []
  for (const rate of o.rates) {
    const runs = new Map<LatencyTarget, LatencyRun[]>(targets.map((t) => [t, []]))
    for (let rep = 0; rep < o.reps; rep++) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(i + rep) % targets.length]!
        const r = await runLatency(t, rate, o.latencySeconds, eventBytes)
        runs.get(t)!.push(r)
        const p99 = percentileSorted(r.latencies, 99)
        log(`  latency ${rate}/s ${t.name}: p99 ${p99.toFixed(2)} ms, ${r.received}/${r.sent} received`)
      }
    }
    for (const t of targets) {
      const rs = runs.get(t)!
      const pick = (p: number) => spread(rs.map((r) => percentileSorted(r.latencies, p)))
      const byP99 = [...rs].sort(
        (a, b) => percentileSorted(a.latencies, 99) - percentileSorted(b.latencies, 99),
      )
      rows.push({
        system: t.name,
        durability: t.durability,
        rate,
        p50: pick(50),
        p99: pick(99),
        p999: pick(99.9),
        max: pick(100),
        deliveredMin: Math.min(...rs.map((r) => (r.sent === 0 ? 0 : r.received / r.sent))),
        cdf: cdfPoints(
          (byP99[byP99.length >> 1]?.latencies ?? []).filter((v) => v > 0),
          300,
        ),
      })
    }
  }
  return rows
}
