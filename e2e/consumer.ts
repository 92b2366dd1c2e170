import { brokerApi } from './stack-env'

/** One delivery as a consumer receives it from `POST /v1/subscriptions/{name}/pull`. */
export interface Delivery {
  token: string
  topic: string
  deliveries: number
  event: { id: string; type: string; key: string | null; partition: number; offset: string; data: unknown }
}

/** A consumer driving a subscription over HTTP, the way a service without an SDK would. */
export function consumer(subscription: string, member: string) {
  const base = `/v1/subscriptions/${encodeURIComponent(subscription)}`
  const call = async <T>(path: string, body: unknown): Promise<T> => {
    const res = await brokerApi<T>('POST', base + path, body)
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(res.body)}`)
    return res.body
  }
  return {
    pull: async (max: number, waitMs = 1000) =>
      (await call<{ deliveries: Delivery[] }>('/pull', { member, max, waitMs })).deliveries,
    ack: (deliveries: Delivery[]) => call('/ack', { tokens: deliveries.map((d) => d.token) }),
    nak: (d: Delivery, delayMs = 0) => call('/nak', { token: d.token, delayMs }),
  }
}

/** Publishes `count` events to `topic` in batches of 500; keys spread them over the partitions. */
export async function publishMany(topic: string, count: number, type = 'game.score'): Promise<void> {
  for (let start = 0; start < count; start += 500) {
    const n = Math.min(500, count - start)
    const events = Array.from({ length: n }, (_, i) => ({
      type,
      key: `player-${(start + i) % 16}`,
      data: { n: start + i },
    }))
    const res = await brokerApi('POST', `/v1/topics/${topic}/events`, { events })
    if (res.status !== 201) throw new Error(`publishing to ${topic} answered ${res.status}`)
  }
}
