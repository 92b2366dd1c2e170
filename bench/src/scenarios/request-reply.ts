import type { BenchOptions } from '../options'
import { percentileSorted, type Spread, spread } from '../stats'
import type { RequestReplyTarget, RoundTrip } from '../systems/request-reply'

export interface RequestReplyRow {
  system: string
  via: string
  /** Closed-loop requesters, each with one request outstanding. */
  concurrency: number
  roundTripsPerSecond: Spread
  /** Milliseconds per round trip. */
  p50: Spread
  p99: Spread
}

const log = (s: string) => process.stderr.write(`${s}\n`)

/** Each requester sends, waits for the reply, and sends again; a short warm-up is left out. */
export async function runRequestReply(
  requesters: RoundTrip[],
  seconds: number,
  warmupSeconds: number,
): Promise<{ roundTripsPerSecond: number; latencies: number[] }> {
  const latencies: number[] = []
  const begin = performance.now()
  const measureFrom = begin + warmupSeconds * 1000
  const end = measureFrom + seconds * 1000
  await Promise.all(
    requesters.map(async (rt) => {
      while (performance.now() < end) {
        const t0 = performance.now()
        await rt()
        if (t0 >= measureFrom) latencies.push(performance.now() - t0)
      }
    }),
  )
  return { roundTripsPerSecond: latencies.length / seconds, latencies: latencies.sort((a, b) => a - b) }
}

/** Scenario 5: for each concurrency, every system in turn (order rotated per repetition), `reps` times. */
export async function measureRequestReply(
  targets: RequestReplyTarget[],
  o: Pick<BenchOptions, 'reps' | 'requestReplyConcurrency' | 'requestReplySeconds' | 'warmupSeconds'>,
): Promise<RequestReplyRow[]> {
  const rows: RequestReplyRow[] = []
  for (const concurrency of o.requestReplyConcurrency) {
    const runs = new Map<RequestReplyTarget, Array<{ roundTripsPerSecond: number; latencies: number[] }>>(
      targets.map((t) => [t, []]),
    )
    for (let rep = 0; rep < o.reps; rep++) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(i + rep) % targets.length]!
        const opened = await t.open(concurrency)
        try {
          const r = await runRequestReply(opened.requesters, o.requestReplySeconds, o.warmupSeconds)
          runs.get(t)!.push(r)
          log(
            `  request/reply ×${concurrency} ${t.name}: ${Math.round(r.roundTripsPerSecond)}/s, p99 ${percentileSorted(r.latencies, 99).toFixed(2)} ms`,
          )
        } finally {
          await opened.close()
        }
      }
    }
    for (const t of targets) {
      const rs = runs.get(t)!
      const pick = (p: number) => spread(rs.map((r) => percentileSorted(r.latencies, p)))
      rows.push({
        system: t.name,
        via: t.via,
        concurrency,
        roundTripsPerSecond: spread(rs.map((r) => r.roundTripsPerSecond)),
        p50: pick(50),
        p99: pick(99),
      })
    }
  }
  return rows
}
