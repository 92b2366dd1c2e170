import { Redis } from 'ioredis'
import { connect, DeliverPolicy, type NatsConnection, StorageType } from 'nats'
import { sentAtOf } from '../payload'
import { HttpClient } from './http-client'
import { createTopic } from './questlog-http'
import { openSse } from './sse-client'

/** Called by subscriber `i` with the `sentAt` read from each event it receives. */
export type OnFanout = (subscriber: number, sentAt: number) => void

/** One topic/stream with `subscribers` live consumers, each on its own connection. */
export interface FanoutTarget {
  name: string
  /** How the subscribers are attached, printed beside the figures. */
  via: string
  open(
    subscribers: number,
    onReceive: OnFanout,
  ): Promise<{ publish(event: string): Promise<void>; close(): Promise<void> }>
}

let seq = 0
const enc = new TextEncoder()
const dec = new TextDecoder()

/** Questlog: one HTTP publish per event, `subscribers` SSE streams (`from=latest`) of a 1-partition topic. */
export function questlogSseFanout(url: () => string): FanoutTarget {
  return {
    name: 'Questlog HTTP → SSE',
    via: 'PostgreSQL COMMIT, then 100 SSE streams',
    async open(subscribers, onReceive) {
      const client = new HttpClient(url(), 8)
      const topic = await createTopic(client, 'fan', 1)
      const streams = await Promise.all(
        Array.from({ length: subscribers }, (_, i) =>
          openSse(`${url()}/v1/topics/${topic}/stream?from=latest`, (d) => onReceive(i, sentAtOf(d))),
        ),
      )
      const path = `/v1/topics/${topic}/events`
      return {
        async publish(event) {
          const res = await client.request('POST', path, `{"events":[{"data":${event}}]}`)
          if (res.status >= 300) throw new Error(`publish: ${res.status} ${res.body.slice(0, 200)}`)
        },
        async close() {
          for (const s of streams) s.close()
          await client.json('DELETE', `/v1/topics/${topic}`).catch(() => {})
          client.close()
        },
      }
    },
  }
}

/** NATS JetStream: `js.publish()` with its PubAck, `subscribers` ordered consumers, one connection each. */
export function natsFanout(port: () => number, name: string): FanoutTarget {
  return {
    name,
    via: 'PubAck, then 100 ordered consumers',
    async open(subscribers, onReceive) {
      const nc = await connect({ servers: `127.0.0.1:${port()}` })
      const stream = `bench_fan_${process.pid}_${++seq}`
      const jsm = await nc.jetstreamManager()
      await jsm.streams.add({ name: stream, subjects: [`${stream}.events`], storage: StorageType.File })
      const conns: NatsConnection[] = await Promise.all(
        Array.from({ length: subscribers }, () => connect({ servers: `127.0.0.1:${port()}` })),
      )
      const consumers = await Promise.all(
        conns.map(async (c, i) => {
          const consumer = await c.jetstream().consumers.get(stream, { deliver_policy: DeliverPolicy.New })
          const messages = await consumer.consume({ max_messages: 100 })
          const loop = (async () => {
            for await (const m of messages) onReceive(i, sentAtOf(dec.decode(m.data)))
          })()
          return { messages, loop }
        }),
      )
      const js = nc.jetstream()
      return {
        async publish(event) {
          await js.publish(`${stream}.events`, enc.encode(event))
        },
        async close() {
          for (const c of consumers) await c.messages.close()
          await Promise.all(consumers.map((c) => c.loop.catch(() => {})))
          await Promise.all(conns.map((c) => c.close()))
          await jsm.streams.delete(stream).catch(() => {})
          await nc.close()
        },
      }
    },
  }
}

/** Redis Streams: `XADD` per event, `subscribers` connections each looping a blocking `XREAD`. */
export function redisFanout(port: () => number, name: string): FanoutTarget {
  return {
    name,
    via: 'XADD reply, then 100 blocking XREAD readers',
    async open(subscribers, onReceive) {
      const key = `bench:${process.pid}:fan:${++seq}`
      const connectTo = () => new Redis({ host: '127.0.0.1', port: port() }).on('error', () => {})
      const pub = connectTo()
      const readers = Array.from({ length: subscribers }, () => connectTo())
      let open = true
      const loops = readers.map(async (r, i) => {
        let last = '$'
        while (open) {
          const res = (await r.xread('COUNT', 100, 'BLOCK', 200, 'STREAMS', key, last)) as Array<
            [string, Array<[string, string[]]>]
          > | null
          for (const [, entries] of res ?? []) {
            for (const [id, fields] of entries) {
              last = id
              onReceive(i, sentAtOf(fields[1] ?? ''))
            }
          }
        }
      })
      return {
        async publish(event) {
          await pub.xadd(key, '*', 'd', event)
        },
        async close() {
          open = false
          await Promise.all(loops.map((l) => l.catch(() => {})))
          await pub.del(key)
          await Promise.all([pub.quit(), ...readers.map((r) => r.quit())])
        },
      }
    },
  }
}
