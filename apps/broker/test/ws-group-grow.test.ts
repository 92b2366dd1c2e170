import { createClient, type QuestlogClient } from '@questlog/sdk-node'
import { afterAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, sleep, startBroker } from './helpers'

describe('a consumer group on a topic that grows', () => {
  let broker: Broker | undefined
  const clients: QuestlogClient[] = []
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await broker?.stop()
  })

  it('divides the new partitions among its members on their next heartbeat, each event to one member', async () => {
    broker = await startBroker()
    await createTopic(broker.url, 'grow.t', { partitions: 2 })
    const got = new Map<string, string[]>() // member → partition:offset
    const member = (name: string) => {
      const c = createClient({ brokers: [broker!.url] })
      clients.push(c)
      const sub = c.subscribe<{ n: number }>('grow.t', {
        group: 'g',
        from: 'earliest',
        sessionTimeoutMs: 2000,
      })
      got.set(name, [])
      void (async () => {
        for await (const ev of sub) {
          got.get(name)!.push(`${ev.partition}:${ev.offset}`)
          await ev.ack()
        }
      })().catch(() => {}) // an ack cut by the close at the end
      return sub
    }
    const one = member('one')
    const two = member('two')
    const owned = () => [...Object.keys(one.positions), ...Object.keys(two.positions)].map(Number).sort()
    const until = async (what: string, f: () => boolean) => {
      const deadline = Date.now() + 15_000
      while (!f()) {
        if (Date.now() > deadline) throw new Error(`not within 15 s: ${what} (owned ${owned().join(',')})`)
        await sleep(50)
      }
    }
    await until(
      'both partitions owned, one each',
      () => owned().join() === '0,1' && Object.keys(one.positions).length === 1,
    )

    const grown = await api(broker.url, 'PATCH', '/v1/topics/grow.t', { partitions: 4 })
    expect(grown.status).toBe(200)
    await until('the four partitions owned', () => owned().join() === '0,1,2,3')
    expect(Object.keys(one.positions)).toHaveLength(2)
    expect(Object.keys(two.positions)).toHaveLength(2)

    const events = Array.from({ length: 40 }, (_, n) => ({ partition: n % 4, data: { n } }))
    expect((await api(broker.url, 'POST', '/v1/topics/grow.t/events', { events })).status).toBe(201)
    await until('every event received', () => got.get('one')!.length + got.get('two')!.length >= 40)
    const all = [...got.get('one')!, ...got.get('two')!]
    expect(new Set(all).size).toBe(40)
    expect(new Set(all.map((x) => x.split(':')[0]))).toEqual(new Set(['0', '1', '2', '3']))
  })
})
