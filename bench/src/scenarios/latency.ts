import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startProcess } from '@questlog/testkit'
import type { BenchOptions } from '../options'
import { eventJson } from '../payload'
import { cdfPoints, percentileSorted, type Spread, spread } from '../stats'
import type { LatencyTarget } from '../systems/types'
import type { LatencyChildArgs } from './latency-child'

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
 * due by then, each stamped with its send time) for `warmupSeconds` and then
 * `seconds`, and records publish → consumer latency of every event sent after
 * the warm-up (before it, the JIT compilers are still at work on both ends).
 */
export async function runLatency(
  target: LatencyTarget,
  rate: number,
  seconds: number,
  eventBytes: number,
  warmupSeconds = 1,
): Promise<LatencyRun> {
  const latencies: number[] = []
  let measureFrom = Number.POSITIVE_INFINITY
  const live = await target.openLive(eventBytes, (sentAt) => {
    if (sentAt >= measureFrom) latencies.push(performance.now() - sentAt)
  })
  let due = 0
  let sent = 0
  const inFlight = new Set<Promise<void>>()
  let failure: unknown
  try {
    const start = performance.now()
    measureFrom = start + warmupSeconds * 1000
    const end = measureFrom + seconds * 1000
    while (performance.now() < end && failure === undefined) {
      const now = performance.now()
      const n = Math.floor(((now - start) / 1000) * rate) - due
      if (n > 0) {
        const events = Array.from({ length: n }, (_, i) => eventJson(eventBytes, due + i, now))
        due += n
        if (now >= measureFrom) sent += n
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

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'latency-child.ts')

/**
 * `runLatency` in a fresh Node process (with this one's loader flags): the
 * publisher and consumer then run in a heap of their own, as in an
 * application, not in this harness's, which has grown through every scenario
 * before and whose collections would pause them.
 */
export async function runLatencyInChild(
  target: LatencyTarget,
  rate: number,
  seconds: number,
  eventBytes: number,
): Promise<LatencyRun> {
  const args: LatencyChildArgs = { spec: target.spec(), rate, seconds, eventBytes }
  const child = startProcess(process.execPath, [...process.execArgv, CHILD, JSON.stringify(args)])
  let out = ''
  let err = ''
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr?.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-4000)
  })
  // 'close', not 'exit': stdout is read to its end by then
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  if (code !== 0) throw new Error(`latency run of ${target.name} exited with ${code}: ${err}`)
  return JSON.parse(out) as LatencyRun
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
        const r = await runLatencyInChild(t, rate, o.latencySeconds, eventBytes)
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
