import { connect, DeliverPolicy, type NatsConnection, RetentionPolicy, StorageType } from 'nats'
import { eventJson, sentAtOf } from '../payload'
import type { CatchUpTarget, LatencyTarget, OpenedTarget, ThroughputCase, ThroughputTarget } from './types'

let seq = 0
const enc = new TextEncoder()
const dec = new TextDecoder()

/** One stream per partition (a JetStream stream is one ordered log), file storage. */
async function addStreams(nc: NatsConnection, partitions: number): Promise<string[]> {
  const jsm = await nc.jetstreamManager()
  const prefix = `bench_${process.pid}_${++seq}`
  const names: string[] = []
  for (let p = 0; p < partitions; p++) {
    const name = `${prefix}_${p}`
    await jsm.streams.add({
      name,
      subjects: [`${name}.events`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
    })
    names.push(name)
  }
  return names
}

async function deleteStreams(nc: NatsConnection, names: string[]): Promise<void> {
  const jsm = await nc.jetstreamManager()
  for (const n of names) await jsm.streams.delete(n).catch(() => {})
}

/** NATS JetStream: `js.publish()` with a PubAck per message, `batch` publishes in flight per producer. */
export function natsJetStream(port: () => number, durability: string, name: string): ThroughputTarget {
  return {
    name,
    durability,
    async open(c: ThroughputCase): Promise<OpenedTarget> {
      const admin = await connect({ servers: `127.0.0.1:${port()}` })
      const streams = await addStreams(admin, c.partitions)
      const conns = await Promise.all(
        Array.from({ length: c.producers }, () => connect({ servers: `127.0.0.1:${port()}` })),
      )
      const producers = conns.map((nc, i) => {
        const js = nc.jetstream()
        const subject = `${streams[i % c.partitions]}.events`
        const payloads = Array.from({ length: c.batch }, (_, j) => enc.encode(eventJson(c.eventBytes, j)))
        return async () => {
          await Promise.all(payloads.map((p) => js.publish(subject, p)))
          return c.batch
        }
      })
      return {
        producers,
        async close() {
          await Promise.all(conns.map((nc) => nc.close()))
          await deleteStreams(admin, streams)
          await admin.close()
        },
      }
    },
  }
}

/** Publishes events to one stream and consumes them live with an ordered consumer. */
export function natsLatency(port: () => number, durability: string, name: string): LatencyTarget {
  return {
    name,
    durability,
    spec: () => ({ system: 'nats', port: port(), durability, name }),
    async openLive(_eventBytes, onReceive) {
      const nc = await connect({ servers: `127.0.0.1:${port()}` })
      const sub = await connect({ servers: `127.0.0.1:${port()}` })
      const [stream] = await addStreams(nc, 1)
      const js = nc.jetstream()
      const consumer = await sub.jetstream().consumers.get(stream!, { deliver_policy: DeliverPolicy.New })
      const messages = await consumer.consume({ max_messages: 1000 })
      const loop = (async () => {
        for await (const m of messages) onReceive(sentAtOf(dec.decode(m.data)))
      })()
      return {
        async publish(events) {
          await Promise.all(events.map((e) => js.publish(`${stream}.events`, enc.encode(e))))
        },
        async close() {
          await messages.close()
          await loop.catch(() => {})
          await sub.close()
          await deleteStreams(nc, [stream!])
          await nc.close()
        },
      }
    },
  }
}

/** Stores events in one stream, then reads them all with an ordered consumer from the start. */
export function natsCatchUp(port: () => number, name: string): CatchUpTarget {
  return {
    name,
    async fill(count, eventBytes) {
      const nc = await connect({ servers: `127.0.0.1:${port()}` })
      const [stream] = await addStreams(nc, 1)
      const payload = enc.encode(eventJson(eventBytes, 0))
      // filled with plain publishes (the stream stores them all), then waited for: the read is what is measured
      const jsm = await nc.jetstreamManager()
      for (let sent = 0; sent < count; sent += 1000) {
        for (let i = 0; i < Math.min(1000, count - sent); i++) nc.publish(`${stream}.events`, payload)
        await nc.flush()
      }
      for (let i = 0; (await jsm.streams.info(stream!)).state.messages < count; i++) {
        if (i > 600) throw new Error(`the stream holds fewer than ${count} messages after 60 s`)
        await new Promise((r) => setTimeout(r, 100))
      }
      return {
        async readAll() {
          const sub = await connect({ servers: `127.0.0.1:${port()}` })
          // an ordered consumer starts at the stream's first message by default
          const consumer = await sub.jetstream().consumers.get(stream!)
          const messages = await consumer.consume({ max_messages: 5000 })
          let got = 0
          for await (const m of messages) {
            if (m.data.length > 0) got++
            if (got >= count) break
          }
          await sub.close()
          return got
        },
        async close() {
          await deleteStreams(nc, [stream!])
          await nc.close()
        },
      }
    },
  }
}
