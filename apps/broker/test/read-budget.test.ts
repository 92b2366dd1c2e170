import { createClient } from '@questlog/sdk-node'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { Broker } from '../src/broker'
import { readEventPage } from '../src/storage/event-store'
import { api, createTopic, sleep, startBroker } from './helpers'
import { SseClient } from './sse'

const BUDGET = 4096
const PARTITIONS = 3
let broker: Broker
/** What the log holds, as the database has it: [partition, offset, stored bytes, time]. */
let stored: Array<{ partition: number; offset: number; size: number; time: number }>
let topicId: number
let total = 0

beforeAll(async () => {
  broker = await startBroker({ maxReadBytes: BUDGET })
  await createTopic(broker.url, 'budget.log', { partitions: PARTITIONS })
  // sizes around the budget: pages of one, a few, or many events
  const sizes = fc.sample(fc.integer({ min: 10, max: 3 * BUDGET }), { numRuns: 90, seed: 7 })
  for (let i = 0; i < sizes.length; i += 10) {
    const events = sizes
      .slice(i, i + 10)
      .map((n, j) => ({ partition: (i + j) % PARTITIONS, data: { n: i + j, pad: 'x'.repeat(n) } }))
    expect((await api(broker.url, 'POST', '/v1/topics/budget.log/events', { events })).status).toBe(201)
  }
  total = sizes.length
  topicId = (await broker.services.topics.get('budget.log')).id
  const rows = await broker.services.sql`
    SELECT partition, "offset", octet_length(data) AS size, (extract(epoch FROM time) * 1000)::float8 AS t
    FROM ql_events WHERE topic_id = ${topicId}`
  stored = rows.map((r) => ({
    partition: Number(r.partition),
    offset: Number(r.offset),
    size: Number(r.size),
    time: Number(r.t),
  }))
})
afterAll(() => broker.stop())

describe('a read capped by bytes', () => {
  it('returns exactly the prefix both limits allow, and says short only when nothing was left', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 35 }), { minLength: PARTITIONS, maxLength: PARTITIONS }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 5 * BUDGET }),
        fc.boolean(),
        async (from, limit, maxBytes, oneByOne) => {
          const positions = new Map(from.map((o, p) => [p, o]))
          if (oneByOne) for (const p of [1, 2]) positions.delete(p)
          const order = positions.size === 1 ? 'offset' : 'time'
          const page = await readEventPage(broker.services.sql, topicId, {
            positions,
            limit,
            maxBytes,
            order,
          })
          // the specification: everything after the positions, in page order, cut by count and by bytes before a row
          const all = stored
            .filter((e) => positions.has(e.partition) && e.offset >= positions.get(e.partition)!)
            .sort((a, b) =>
              order === 'offset'
                ? a.partition - b.partition || a.offset - b.offset
                : a.time - b.time || a.partition - b.partition || a.offset - b.offset,
            )
          const want: typeof all = []
          let before = 0
          for (const e of all) {
            if (want.length >= limit || before >= maxBytes) break
            want.push(e)
            before += e.size
          }
          expect(page.events.map((e) => [e.partition, e.offset])).toEqual(
            want.map((e) => [e.partition, e.offset]),
          )
          if (page.short) expect(want.length).toBe(all.length)
          if (want.length < all.length) expect(page.short).toBe(false)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('SSE, WebSocket and both kinds of pull deliver a backlog of large events whole, each once, in order', async () => {
    interface Ev {
      partition: number
      offset: string
      data: { n: number }
    }
    const inOrder = (events: Ev[]) => {
      const byPartition = new Map<number, number[]>()
      for (const e of events)
        byPartition.set(e.partition, [...(byPartition.get(e.partition) ?? []), Number(e.offset)])
      for (const offsets of byPartition.values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b))
      return events.map((e) => e.data.n).sort((a, b) => a - b)
    }
    const everything = Array.from({ length: total }, (_, n) => n)

    const sse = new SseClient(`${broker.url}/v1/topics/budget.log/stream?from=earliest`)
    await sse.waitFor(total)
    await sleep(200)
    sse.close()
    expect(inOrder(sse.events())).toEqual(everything)

    const bus = createClient({ brokers: [broker.url] })
    const got: Ev[] = []
    for await (const e of bus.subscribe('budget.log', { from: 'earliest' })) {
      got.push(e as unknown as Ev)
      if (got.length === total) break
    }
    expect(inOrder(got)).toEqual(everything)
    await bus.close()

    for (const mode of ['queue', 'stream']) {
      const name = `budget.${mode}`
      const created = await api(broker.url, 'POST', '/v1/subscriptions', {
        name,
        topic: 'budget.log',
        mode,
        from: 'earliest',
      })
      expect(created.status).toBe(201)
      const pulled: Ev[] = []
      for (let round = 0; round < 500 && pulled.length < total; round++) {
        const res = await api(broker.url, 'POST', `/v1/subscriptions/${name}/pull`, {
          member: 'm',
          max: 1000,
        })
        const deliveries = res.body.deliveries as Array<{ token: string; event: Ev }>
        // past the first event, a pull's payloads stay within the budget
        const sizes = deliveries.map((d) => JSON.stringify(d.event.data).length)
        expect(sizes.slice(0, -1).reduce((a, b) => a + b, 0)).toBeLessThan(BUDGET)
        pulled.push(...deliveries.map((d) => d.event))
        if (deliveries.length > 0) {
          const acked = await api(broker.url, 'POST', `/v1/subscriptions/${name}/ack`, {
            tokens: deliveries.map((d) => d.token),
          })
          expect(acked.status).toBe(200)
        }
      }
      expect(inOrder(pulled), mode).toEqual(everything)
    }
  })

  it('sends a commit of many events to a WebSocket in frames of the budget, not in one', async () => {
    await createTopic(broker.url, 'budget.live', { partitions: 1 })
    const ws = new WebSocket(`${broker.url.replace('http', 'ws')}/v1/ws`)
    const frames: Array<{ op: string; events?: Array<{ event: { data: { n: number } } }> }> = []
    ws.on('message', (m) => frames.push(JSON.parse(String(m))))
    await new Promise((resolve) => ws.once('open', resolve))
    ws.send(JSON.stringify({ op: 'hello', v: 1 }))
    while (!frames.some((f) => f.op === 'welcome')) await sleep(10)
    ws.send(JSON.stringify({ op: 'subscribe', sid: 's', topic: 'budget.live', from: 'latest' }))
    while (!frames.some((f) => f.op === 'subscribed')) await sleep(10)
    // one request, one commit, handed to the subscription at once by the writer
    const events = Array.from({ length: 40 }, (_, n) => ({ data: { n, pad: 'y'.repeat(1500) } }))
    expect((await api(broker.url, 'POST', '/v1/topics/budget.live/events', { events })).status).toBe(201)
    const batches = () => frames.filter((f) => f.op === 'events').map((f) => f.events!)
    while (batches().flat().length < 40) await sleep(10)
    ws.terminate()
    expect(
      batches()
        .flat()
        .map((e) => e.event.data.n),
    ).toEqual(events.map((e) => e.data.n))
    for (const batch of batches()) {
      const bytes = batch.map((e) => JSON.stringify(e).length)
      expect(bytes.slice(0, -1).reduce((a, b) => a + b, 0)).toBeLessThan(BUDGET)
    }
  })
})
