import { processUsage } from '@questlog/testkit'
import { HttpClient } from '../systems/http-client'
import { batchBody, createTopic } from '../systems/questlog-http'

export interface UsageSample {
  /** CPU use of the broker process, in % of one core. */
  cpuPercent: number
  rssMb: number
  /** Events per second actually published during the sample (0 at idle). */
  eventsPerSecond: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const MB = 1024 * 1024

/** Tracks the largest RSS of a process while it runs, sampled every 200 ms. */
export function watchPeakRss(pid: number): { stop(): number } {
  let peak = 0
  const tick = () => {
    try {
      peak = Math.max(peak, processUsage(pid).rssBytes)
    } catch {
      // the process has exited
    }
  }
  tick()
  const timer = setInterval(tick, 200)
  return {
    stop() {
      clearInterval(timer)
      tick()
      return peak / MB
    },
  }
}

/** CPU and RSS of the broker with no traffic at all. */
export async function idleUsage(pid: number, seconds: number): Promise<UsageSample> {
  const a = processUsage(pid)
  const t0 = performance.now()
  await sleep(seconds * 1000)
  const b = processUsage(pid)
  const wall = (performance.now() - t0) / 1000
  return {
    cpuPercent: ((b.cpuSeconds - a.cpuSeconds) / wall) * 100,
    rssMb: b.rssBytes / MB,
    eventsPerSecond: 0,
  }
}

/**
 * CPU and peak RSS of the broker while HTTP batches of 1000 x 200 B events
 * arrive at a fixed `rate` (events/s) into a 1-partition topic.
 */
export async function loadedUsage(
  url: string,
  pid: number,
  rate: number,
  seconds: number,
): Promise<UsageSample> {
  const client = new HttpClient(url, 8)
  const topic = await createTopic(client, 'load', 1)
  const body = batchBody(1000, 200)
  const path = `/v1/topics/${topic}/events`
  const peak = watchPeakRss(pid)
  const a = processUsage(pid)
  const t0 = performance.now()
  let sent = 0
  const inFlight = new Set<Promise<unknown>>()
  try {
    while (performance.now() - t0 < seconds * 1000) {
      const due = ((performance.now() - t0) / 1000) * rate
      if (sent + 1000 <= due && inFlight.size < 8) {
        sent += 1000
        const p = client.request('POST', path, body)
        inFlight.add(p)
        void p.finally(() => inFlight.delete(p))
      } else await sleep(1)
    }
    await Promise.all(inFlight)
    const b = processUsage(pid)
    const wall = (performance.now() - t0) / 1000
    return {
      cpuPercent: ((b.cpuSeconds - a.cpuSeconds) / wall) * 100,
      rssMb: peak.stop(),
      eventsPerSecond: sent / wall,
    }
  } finally {
    peak.stop()
    await client.json('DELETE', `/v1/topics/${topic}`).catch(() => {})
    client.close()
  }
}
