import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, startBroker, trpcCall } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

const trpc = (kind: 'query' | 'mutation', path: string, input?: unknown) =>
  trpcCall(broker.url, kind, path, input)

describe('subscriptions and replays through the admin API', () => {
  it('creates, reports lag, pauses, and lists replay jobs the same as over HTTP', async () => {
    await createTopic(broker.url, 'shop.orders', { partitions: 2 })
    const created = await trpc('mutation', 'subscriptions.create', {
      name: 'fulfilment',
      topic: 'shop.*',
      mode: 'queue',
      from: 'earliest',
    })
    expect(created.status).toBe(200)
    await api(broker.url, 'POST', '/v1/topics/shop.orders/events', {
      events: [1, 2, 3].map((n) => ({ key: `k${n}`, data: n })),
    })
    const list = await trpc('query', 'subscriptions.list')
    expect(list.body.result.data).toHaveLength(1)
    expect(list.body.result.data[0]).toMatchObject({ name: 'fulfilment', mode: 'queue', lag: 3, pending: 0 })
    expect(list.body.result.data[0].partitions.map((p: any) => p.topic)).toEqual([
      'shop.orders',
      'shop.orders',
    ])

    const paused = await trpc('mutation', 'subscriptions.pause', { name: 'fulfilment' })
    expect(paused.body.result.data.paused).toBe(true)
    const http = await api(broker.url, 'GET', '/v1/subscriptions/fulfilment')
    expect(http.body.paused).toBe(true)

    const replay = await trpc('mutation', 'replays.create', {
      topic: 'shop.orders',
      fromOffset: 0,
      target: { subscription: 'fulfilment-replay' },
    })
    expect(replay.status).toBe(200)
    const jobs = await trpc('query', 'replays.list')
    expect(jobs.body.result.data.map((j: any) => j.id)).toContain(replay.body.result.data.id)

    const dead = await trpc('query', 'subscriptions.deadLetters', { name: 'fulfilment' })
    expect(dead.body.result.data).toEqual([])
    const bad = await trpc('mutation', 'subscriptions.create', { name: 'x', topic: 'shop.>.bad' })
    expect(bad.status).toBe(400)
    expect(bad.body.error.data.questlog.details.issues[0].path).toBe('topic')
  })
})
