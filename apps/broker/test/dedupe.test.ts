import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, readAll, sleep, startBroker } from './helpers'
import { SseClient } from './sse'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

async function countEvents(topic: string, partitions: number): Promise<any[]> {
  const all: any[] = []
  for (let p = 0; p < partitions; p++) all.push(...(await readAll(broker.url, topic, p)))
  return all
}

describe('dedupe', () => {
  it('stores a repeated dedupe key once and returns the original receipt', async () => {
    await createTopic(broker.url, 'rewards', { partitions: 2 })
    const first = await api(broker.url, 'POST', '/v1/topics/rewards/events', {
      dedupeKey: 'grant-1',
      data: { gold: 10 },
    })
    const again = await api(broker.url, 'POST', '/v1/topics/rewards/events', {
      dedupeKey: 'grant-1',
      data: { gold: 99 },
    })
    expect(first.body.duplicate).toBe(false)
    expect(again.status).toBe(201)
    expect(again.body).toEqual({ ...first.body, duplicate: true })
    const stored = await countEvents('rewards', 2)
    expect(stored).toHaveLength(1)
    expect(stored[0].data).toEqual({ gold: 10 })
  })

  it('stores one event when publishes with the same key race across partitions', async () => {
    await createTopic(broker.url, 'purchases', { partitions: 4 })
    // keyless events spread over partitions, so the racers land in different writers
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        api(broker.url, 'POST', '/v1/topics/purchases/events', {
          dedupeKey: 'order-77',
          data: { attempt: i },
        }),
      ),
    )
    for (const r of results) expect(r.status).toBe(201)
    const originals = results.filter((r) => !r.body.duplicate)
    expect(originals).toHaveLength(1)
    const { id, partition, offset } = originals[0]!.body
    for (const r of results)
      expect({ id: r.body.id, partition: r.body.partition, offset: r.body.offset }).toEqual({
        id,
        partition,
        offset,
      })
    expect(await countEvents('purchases', 4)).toHaveLength(1)
  })

  it('dedupes inside one batch and answers every event in request order', async () => {
    await createTopic(broker.url, 'chat.room-1')
    const res = await api(broker.url, 'POST', '/v1/topics/chat.room-1/events', {
      events: [
        { dedupeKey: 'm1', data: 'hi' },
        { dedupeKey: 'm2', data: 'there' },
        { dedupeKey: 'm1', data: 'hi again' },
        { data: 'no key' },
      ],
    })
    expect(res.body.receipts.map((r: any) => r.duplicate)).toEqual([false, false, true, false])
    expect(res.body.receipts[2].offset).toBe(res.body.receipts[0].offset)
    expect((await readAll(broker.url, 'chat.room-1', 0)).map((e) => e.data)).toEqual([
      'hi',
      'there',
      'no key',
    ])
  })

  it('accepts the key again once the dedupe window has passed', async () => {
    await createTopic(broker.url, 'short.window', { dedupeWindowMs: 300 })
    const a = await api(broker.url, 'POST', '/v1/topics/short.window/events', { dedupeKey: 'k', data: 1 })
    await sleep(500)
    const b = await api(broker.url, 'POST', '/v1/topics/short.window/events', { dedupeKey: 'k', data: 2 })
    expect(b.body.duplicate).toBe(false)
    expect(b.body.offset).not.toBe(a.body.offset)
    expect(await readAll(broker.url, 'short.window', 0)).toHaveLength(2)
  })

  it("forgets a deleted topic's keys with it", async () => {
    await createTopic(broker.url, 'gone.soon')
    await api(broker.url, 'POST', '/v1/topics/gone.soon/events', {
      events: [1, 2, 3].map((i) => ({ dedupeKey: `k-${i}`, data: i })),
    })
    const { id } = await broker.services.topics.get('gone.soon')
    const records = () => broker.services.sql`SELECT count(*)::int AS n FROM ql_dedupe WHERE topic_id = ${id}`
    expect((await records())[0]!.n).toBe(3)
    expect((await api(broker.url, 'DELETE', '/v1/topics/gone.soon')).status).toBe(204)
    expect((await records())[0]!.n).toBe(0)
    // a topic of the same name starts with no keys
    await createTopic(broker.url, 'gone.soon')
    const again = await api(broker.url, 'POST', '/v1/topics/gone.soon/events', { dedupeKey: 'k-1', data: 1 })
    expect(again.body).toMatchObject({ duplicate: false, offset: '0' })
  })

  it('takes a producer sequence in place of dedupe keys: a resent batch is stored once, answered with the first receipts', async () => {
    await createTopic(broker.url, 'seq.feed', { partitions: 2 })
    const live = new SseClient(`${broker.url}/v1/topics/seq.feed/stream?from=latest`)
    await sleep(200)
    const batch = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        producer: 'srv-1',
        seq: from + i,
        key: `k${(from + i) % 5}`,
        data: from + i,
      }))
    const first = await api(broker.url, 'POST', '/v1/topics/seq.feed/events', { events: batch(0, 20) })
    expect(first.status).toBe(201)
    // the same batch again (its receipts were lost), then one that overlaps it and goes further
    const again = await api(broker.url, 'POST', '/v1/topics/seq.feed/events', { events: batch(0, 20) })
    expect(again.body.receipts).toEqual(first.body.receipts.map((r: any) => ({ ...r, duplicate: true })))
    const overlap = await api(broker.url, 'POST', '/v1/topics/seq.feed/events', { events: batch(15, 10) })
    expect(overlap.body.receipts.map((r: any) => r.duplicate)).toEqual([
      ...Array(5).fill(true),
      ...Array(5).fill(false),
    ])
    expect(overlap.body.receipts.slice(0, 5)).toEqual(
      first.body.receipts.slice(15).map((r: any) => ({ ...r, duplicate: true })),
    )
    // another producer's numbers are its own; within one batch a repeated seq is stored once
    const other = await api(broker.url, 'POST', '/v1/topics/seq.feed/events', {
      events: [
        { producer: 'srv-2', seq: 0, key: 'k0', data: 'a' },
        { producer: 'srv-2', seq: 0, key: 'k0', data: 'a' },
      ],
    })
    expect(other.body.receipts.map((r: any) => r.duplicate)).toEqual([false, true])

    const stored = await countEvents('seq.feed', 2)
    expect(
      stored
        .map((e) => e.data)
        .filter((d) => typeof d === 'number')
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 25 }, (_, i) => i))
    expect(stored).toHaveLength(26)
    // live readers see each event as the log has it, its sequence key included
    const seen = (await live.waitFor(26)).map((m) => JSON.parse(m.data))
    live.close()
    const byOffset = (es: any[]) => es.map((e) => `${e.partition}/${e.offset} ${e.dedupeKey}`).sort()
    expect(byOffset(seen)).toEqual(byOffset(stored))
    expect(stored.find((e) => e.data === 3)?.dedupeKey).toBe('srv-1:3')
    // offsets stay gapless in each partition
    for (const p of [0, 1]) {
      const offsets = (await readAll(broker.url, 'seq.feed', p)).map((e) => Number(e.offset))
      expect(offsets).toEqual(offsets.map((_, i) => i))
    }
    // one record per producer and partition, none per event
    const { id } = await broker.services.topics.get('seq.feed')
    const [dedupe] = await broker.services
      .sql`SELECT count(*)::int AS n FROM ql_dedupe WHERE topic_id = ${id}`
    expect(dedupe!.n).toBe(0)
  })

  it('refuses half a producer sequence, or one with a dedupe key, naming the field', async () => {
    await createTopic(broker.url, 'seq.bad')
    const half = await api(broker.url, 'POST', '/v1/topics/seq.bad/events', { producer: 'p', data: 1 })
    expect(half.status).toBe(400)
    expect(half.body.error.details.issues[0].path).toBe('seq')
    const both = await api(broker.url, 'POST', '/v1/topics/seq.bad/events', {
      producer: 'p',
      seq: 1,
      dedupeKey: 'd',
      data: 1,
    })
    expect(both.status).toBe(400)
    expect(both.body.error.details.issues[0].path).toBe('dedupeKey')
    expect(await readAll(broker.url, 'seq.bad', 0)).toHaveLength(0)
  })
})
