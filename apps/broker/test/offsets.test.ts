import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, startBroker } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

describe('offsets', () => {
  it('are gapless and commit-ordered: a tailing reader sees 0..N-1 exactly once while 8 producers write', async () => {
    await createTopic(broker.url, 'match.feed', { partitions: 1 })
    const producers = 8
    const requestsEach = 40
    const batch = 10
    const total = producers * requestsEach * batch

    const seen: number[] = []
    let producing = true
    const reader = (async () => {
      let next = '0'
      // tail with from=<next>, as a consumer polling the log would
      while (seen.length < total) {
        const res = await api(
          broker.url,
          'GET',
          `/v1/topics/match.feed/events?partition=0&from=${next}&limit=1000`,
        )
        expect(res.status).toBe(200)
        for (const e of res.body.events) seen.push(Number(e.offset))
        next = res.body.next
        if (res.body.events.length === 0 && !producing) break
      }
    })()

    const receipts: number[] = []
    await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        for (let r = 0; r < requestsEach; r++) {
          const events = Array.from({ length: batch }, (_, i) => ({ data: { p, r, i } }))
          const res = await api(broker.url, 'POST', '/v1/topics/match.feed/events', { events })
          expect(res.status).toBe(201)
          for (const receipt of res.body.receipts) receipts.push(Number(receipt.offset))
        }
      }),
    )
    producing = false
    await reader

    const expected = Array.from({ length: total }, (_, i) => i)
    expect(seen).toEqual(expected)
    expect([...receipts].sort((a, b) => a - b)).toEqual(expected)
  })

  it('keeps each producer batch contiguous and in request order', async () => {
    await createTopic(broker.url, 'match.batches', { partitions: 1 })
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, p) =>
        api(broker.url, 'POST', '/v1/topics/match.batches/events', {
          events: Array.from({ length: 50 }, (_, i) => ({ data: { p, i } })),
        }),
      ),
    )
    for (const res of results) {
      const offsets = res.body.receipts.map((r: { offset: string }) => Number(r.offset))
      expect(offsets).toEqual(offsets.map((_: number, i: number) => offsets[0] + i))
    }
  })

  it('sends the same key to the same partition, in publish order', async () => {
    await createTopic(broker.url, 'player.actions', { partitions: 8 })
    const partitionsByKey = new Map<string, Set<number>>()
    for (let round = 0; round < 5; round++) {
      const events = Array.from({ length: 40 }, (_, i) => ({ key: `player-${i % 10}`, data: { round, i } }))
      const res = await api(broker.url, 'POST', '/v1/topics/player.actions/events', { events })
      res.body.receipts.forEach((r: { partition: number }, i: number) => {
        const key = events[i]!.key
        const set = partitionsByKey.get(key) ?? new Set()
        set.add(r.partition)
        partitionsByKey.set(key, set)
      })
    }
    for (const set of partitionsByKey.values()) expect(set.size).toBe(1)
    // more than one partition is in use
    expect(new Set([...partitionsByKey.values()].map((s) => [...s][0])).size).toBeGreaterThan(1)
  })
})
