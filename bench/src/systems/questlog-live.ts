import { sentAtOf } from '../payload'
import { HttpClient } from './http-client'
import { batchBody, createTopic } from './questlog-http'
import { openSse } from './sse-client'
import type { CatchUpTarget, LatencyTarget } from './types'

/** Publishes over HTTP and consumes the topic's SSE stream (`from=latest`). */
export function questlogSseLatency(url: () => string): LatencyTarget {
  return {
    name: 'Questlog HTTP → SSE',
    durability: 'PostgreSQL COMMIT (synchronous_commit=on)',
    spec: () => ({ system: 'questlog-sse', url: url() }),
    async openLive(_eventBytes, onReceive) {
      const client = new HttpClient(url(), 16)
      const topic = await createTopic(client, 'lat', 1)
      const stream = await openSse(`${url()}/v1/topics/${topic}/stream?from=latest`, (d) =>
        onReceive(sentAtOf(d)),
      )
      const path = `/v1/topics/${topic}/events`
      return {
        async publish(events) {
          const body = `{"events":[${events.map((e) => `{"data":${e}}`).join(',')}]}`
          const res = await client.request('POST', path, body)
          if (res.status >= 300) throw new Error(`publish: ${res.status} ${res.body.slice(0, 200)}`)
        },
        async close() {
          stream.close()
          await client.json('DELETE', `/v1/topics/${topic}`).catch(() => {})
          client.close()
        },
      }
    },
  }
}

/** A Questlog catch-up reader: the shared filled topic, read back from `earliest` by `read`. */
export function questlogCatchUp(
  name: string,
  url: () => string,
  read: (topic: string, count: number) => Promise<number>,
): CatchUpTarget {
  return {
    name,
    async fill(count, eventBytes) {
      const { client, topic } = await fillTopic(url(), count, eventBytes)
      return { readAll: () => read(topic, count), close: () => dropTopic(client, topic) }
    },
  }
}

/** Reads the stored events back over SSE. */
export function questlogSseCatchUp(url: () => string): CatchUpTarget {
  return questlogCatchUp('Questlog SSE', url, async (topic, count) => {
    let got = 0
    let done: () => void = () => {}
    const all = new Promise<void>((r) => {
      done = r
    })
    const stream = await openSse(`${url()}/v1/topics/${topic}/stream?from=earliest`, () => {
      if (++got === count) done()
    })
    await Promise.race([all, stream.ended])
    stream.close()
    return got
  })
}

const fills = new Map<string, Promise<{ client: HttpClient; topic: string }>>()

/**
 * A 1-partition topic holding `count` events. The Questlog readers of a run share one: it is
 * filled once, and the first reader to close drops it.
 */
function fillTopic(url: string, count: number, eventBytes: number) {
  const key = `${url}|${count}|${eventBytes}`
  let fill = fills.get(key)
  if (!fill) {
    fill = fillOnce(url, count, eventBytes)
    fills.set(key, fill)
    void fill.then(
      ({ topic }) => dropped.set(topic, key),
      () => fills.delete(key),
    )
  }
  return fill
}
const dropped = new Map<string, string>()

async function fillOnce(url: string, count: number, eventBytes: number) {
  const client = new HttpClient(url, 4)
  const topic = await createTopic(client, 'catchup', 1)
  const body = batchBody(1000, eventBytes)
  const path = `/v1/topics/${topic}/events`
  let sent = 0
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (sent < count) {
        sent += 1000
        const res = await client.request('POST', path, body)
        if (res.status >= 300) throw new Error(`publish: ${res.status}`)
      }
    }),
  )
  return { client, topic }
}

async function dropTopic(client: HttpClient, topic: string): Promise<void> {
  const key = dropped.get(topic)
  if (key === undefined) return
  dropped.delete(topic)
  fills.delete(key)
  await client.json('DELETE', `/v1/topics/${topic}`).catch(() => {})
  client.close()
}
