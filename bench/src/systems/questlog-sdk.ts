import { createClient } from '@questlog/sdk-node'
import { BENCH_ADMIN_KEY } from '../auth'
import { eventJson } from '../payload'
import { HttpClient } from './http-client'
import { createTopic } from './questlog-http'
import { questlogCatchUp } from './questlog-live'
import type { CatchUpTarget, LatencyTarget, OpenedTarget, ThroughputCase, ThroughputTarget } from './types'

const DURABILITY = 'PostgreSQL COMMIT (synchronous_commit=on), producer sequence per event'

/** The Node SDK over WebSocket with its default options: one client per producer, `publish()` per event. */
export function questlogSdk(url: () => string): ThroughputTarget {
  return {
    name: 'Questlog SDK',
    durability: DURABILITY,
    async open(c: ThroughputCase): Promise<OpenedTarget> {
      const admin = new HttpClient(url(), 1)
      const topic = await createTopic(admin, 'sdk', c.partitions)
      const clients = Array.from({ length: c.producers }, () =>
        createClient({ brokers: [url()], token: BENCH_ADMIN_KEY }),
      )
      const producers = clients.map((bus, i) => {
        const data = Array.from({ length: c.batch }, (_, j) =>
          JSON.parse(eventJson(c.eventBytes, i * c.batch + j)),
        )
        return async () => {
          await Promise.all(data.map((d) => bus.publish(topic, d)))
          return c.batch
        }
      })
      return {
        producers,
        async close() {
          await Promise.all(clients.map((b) => b.close()))
          await admin.json('DELETE', `/v1/topics/${topic}`).catch(() => {})
          admin.close()
        },
      }
    },
  }
}

/** Publishes with the SDK and receives with an SDK subscription (`from: 'latest'`, auto ack). */
export function questlogSdkLatency(url: () => string): LatencyTarget {
  return {
    name: 'Questlog SDK',
    durability: DURABILITY,
    spec: () => ({ system: 'questlog-sdk', url: url() }),
    async openLive(_eventBytes, onReceive) {
      const admin = new HttpClient(url(), 1)
      const topic = await createTopic(admin, 'sdklat', 1)
      const pub = createClient({ brokers: [url()], token: BENCH_ADMIN_KEY })
      const sub = createClient({ brokers: [url()], token: BENCH_ADMIN_KEY })
      const abort = new AbortController()
      const subscription = sub.subscribe<{ sentAt: number }>(topic, { from: 'latest', signal: abort.signal })
      let ready = false
      const loop = (async () => {
        for await (const ev of subscription) {
          if (ev.data.sentAt < 0) ready = true
          else onReceive(ev.data.sentAt)
        }
      })()
      // probes (sentAt < 0) until one arrives: the subscription is live before the first measured event
      for (let i = 0; !ready && i < 100; i++) {
        await pub.publish(topic, JSON.parse(eventJson(200, 0, -1)))
        await new Promise((r) => setTimeout(r, 50))
      }
      if (!ready) throw new Error('the SDK subscription received nothing within 5 s')
      return {
        async publish(events) {
          await Promise.all(events.map((e) => pub.publish(topic, JSON.parse(e))))
        },
        async close() {
          abort.abort()
          await loop.catch(() => {})
          await Promise.all([pub.close(), sub.close()])
          await admin.json('DELETE', `/v1/topics/${topic}`).catch(() => {})
          admin.close()
        },
      }
    },
  }
}

/** Reads the stored events back with an SDK subscription. */
export function questlogSdkCatchUp(url: () => string): CatchUpTarget {
  return questlogCatchUp('Questlog SDK', url, async (topic, count) => {
    const bus = createClient({ brokers: [url()], token: BENCH_ADMIN_KEY })
    const abort = new AbortController()
    let got = 0
    try {
      for await (const _ of bus.subscribe(topic, { from: 'earliest', signal: abort.signal })) {
        if (++got >= count) break
      }
    } finally {
      abort.abort()
      await bus.close()
    }
    return got
  })
}

/**
 * Nanoseconds one `publish()` call takes to return (enqueue only: the loop
 * never yields, so no network work happens inside it), median of `reps` loops.
 */
export async function sdkEnqueueNs(url: string, calls: number, reps: number): Promise<number[]> {
  const admin = new HttpClient(url, 1)
  const topic = await createTopic(admin, 'enqueue', 1)
  const bus = createClient({ brokers: [url], token: BENCH_ADMIN_KEY })
  const data = JSON.parse(eventJson(200, 0)) as unknown
  const out: number[] = []
  try {
    await bus.publish(topic, data) // connected and warm
    for (let r = 0; r < reps; r++) {
      const receipts: Promise<unknown>[] = new Array(calls)
      const t0 = performance.now()
      for (let i = 0; i < calls; i++) receipts[i] = bus.publish(topic, data)
      const ns = ((performance.now() - t0) * 1e6) / calls
      out.push(ns)
      await Promise.all(receipts)
    }
  } finally {
    await bus.close()
    await admin.json('DELETE', `/v1/topics/${topic}`).catch(() => {})
    admin.close()
  }
  return out
}
