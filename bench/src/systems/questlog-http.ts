import { eventJson } from '../payload'
import { HttpClient } from './http-client'
import type { OpenedTarget, ThroughputCase, ThroughputTarget } from './types'

let topicSeq = 0

/** A fresh topic per cell, deleted afterwards, so every cell starts from the same empty log. */
export async function createTopic(client: HttpClient, prefix: string, partitions: number): Promise<string> {
  const name = `bench.${prefix}-${process.pid}-${++topicSeq}`
  await client.json('POST', '/v1/topics', { name, partitions })
  return name
}

/** Builds one `{events:[…]}` request body; keyless events, so the broker spreads requests over partitions. */
export function batchBody(batch: number, eventBytes: number, seq = 0): Buffer {
  const events = Array.from({ length: batch }, (_, i) => `{"data":${eventJson(eventBytes, seq + i)}}`)
  return Buffer.from(`{"events":[${events.join(',')}]}`)
}

/** Questlog over HTTP: `POST /v1/topics/{t}/events` with `{events:[…]}` batches; acked after COMMIT. */
export function questlogHttp(url: () => string): ThroughputTarget {
  return {
    name: 'Questlog HTTP',
    durability: 'PostgreSQL COMMIT (synchronous_commit=on)',
    async open(c: ThroughputCase): Promise<OpenedTarget> {
      const client = new HttpClient(url(), c.producers + 1)
      const topic = await createTopic(client, 'tp', c.partitions)
      const path = `/v1/topics/${topic}/events`
      const producers = Array.from({ length: c.producers }, (_, i) => {
        const body = batchBody(c.batch, c.eventBytes, i * c.batch)
        return async () => {
          const res = await client.request('POST', path, body)
          if (res.status !== 200 && res.status !== 201)
            throw new Error(`publish: ${res.status} ${res.body.slice(0, 300)}`)
          return c.batch
        }
      })
      return {
        producers,
        async close() {
          await client.json('DELETE', `/v1/topics/${topic}`).catch(() => {})
          client.close()
        },
      }
    },
  }
}
