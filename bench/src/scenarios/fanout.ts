import type { BenchOptions } from '../options'
import { eventJson } from '../payload'
import { percentileSorted, type Spread, spread } from '../stats'
import type { FanoutTarget } from '../systems/fanout'

export interface FanoutRow {
  system: string
  via: string
  subscribers: number
  events: number
  rate: number
  /** Publish → delivery, milliseconds, over every (event, subscriber) pair of a repetition. */
  p50: Spread
  p99: Spread
  max: Spread
  /** Share of the expected deliveries (events × subscribers) received, worst repetition. */
  deliveredMin: number
}

const log = (s: string) => process.stderr.write(`${s}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Opens `subscribers` live consumers, waits until every one has received a
 * probe (so all are live), then publishes `events` events one at a time at
 * `rate` per second, each stamped with its send time, and records the
 * latency of every delivery to every subscriber.
 */
export async function runFanout(
  target: FanoutTarget,
  subscribers: number,
  events: number,
  rate: number,
): Promise<{ latencies: number[]; expected: number }> {
  const latencies: number[] = []
  const ready = new Array<boolean>(subscribers).fill(false)
  let readyCount = 0
  const live = await target.open(subscribers, (i, sentAt) => {
    if (sentAt < 0) {
      if (!ready[i]) {
        ready[i] = true
        readyCount++
      }
    } else latencies.push(performance.now() - sentAt)
  })
  try {
    const probe = eventJson(200, 0, -1)
    for (let i = 0; readyCount < subscribers && i < 200; i++) {
      await live.publish(probe)
      await sleep(50)
    }
    if (readyCount < subscribers)
      throw new Error(`${target.name}: ${readyCount} of ${subscribers} subscribers live after 10 s`)
    await sleep(200) // late probes drain before the first measured event
    const inFlight: Promise<void>[] = []
    const start = performance.now()
    for (let n = 0; n < events; n++) {
      const due = start + (n * 1000) / rate
      const wait = due - performance.now()
      if (wait > 0) await sleep(wait)
      inFlight.push(live.publish(eventJson(200, n, performance.now())))
    }
    await Promise.all(inFlight)
    const expected = events * subscribers
    const waitUntil = performance.now() + 5000
    while (latencies.length < expected && performance.now() < waitUntil) await sleep(10)
    return { latencies: latencies.sort((a, b) => a - b), expected }
  } finally {
    await live.close()
  }
}

/** Scenario 4: every system in turn (order rotated per repetition), `reps` times. */
export async function measureFanout(
  targets: FanoutTarget[],
  o: Pick<BenchOptions, 'reps' | 'fanoutSubscribers' | 'fanoutEvents' | 'fanoutRate'>,
): Promise<FanoutRow[]> {
  const runs = new Map<FanoutTarget, Array<{ latencies: number[]; expected: number }>>(
    targets.map((t) => [t, []]),
  )
  for (let rep = 0; rep < o.reps; rep++) {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(i + rep) % targets.length]!
      const r = await runFanout(t, o.fanoutSubscribers, o.fanoutEvents, o.fanoutRate)
      runs.get(t)!.push(r)
      log(
        `  fan-out ${t.name}: p99 ${percentileSorted(r.latencies, 99).toFixed(2)} ms, ${r.latencies.length}/${r.expected} delivered`,
      )
    }
  }
  return targets.map((t) => {
    const rs = runs.get(t)!
    const pick = (p: number) => spread(rs.map((r) => percentileSorted(r.latencies, p)))
    return {
      system: t.name,
      via: t.via,
      subscribers: o.fanoutSubscribers,
      events: o.fanoutEvents,
      rate: o.fanoutRate,
      p50: pick(50),
      p99: pick(99),
      max: pick(100),
      deliveredMin: Math.min(...rs.map((r) => r.latencies.length / r.expected)),
    }
  })
}
