import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { TopicTail } from '../src/read/topic-tail'
import { api, createTopic, sleep, startBroker } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

const publish = async (topic: string, from: number, n: number) => {
  // one request, one commit
  const events = Array.from({ length: n }, (_, i) => ({ data: from + i }))
  expect((await api(broker.url, 'POST', `/v1/topics/${topic}/events`, { events })).status).toBe(201)
}

describe('the read loop', () => {
  it('hands a reader that cannot take more nothing past the first refused write, of a page or of a commit', async () => {
    await createTopic(broker.url, 'tail.stop', { partitions: 1 })
    await publish('tail.stop', 0, 20)
    const sent: number[] = []
    let taking = false
    const waiting: { drain?: () => void } = {}
    /** Lets the tail's wait for a drain end. */
    const drain = () => {
      const resolve = waiting.drain
      waiting.drain = undefined
      resolve?.()
    }
    const tail = new TopicTail({
      sql: broker.services.sql,
      fanout: broker.services.fanout,
      topicId: (await broker.services.topics.get('tail.stop')).id,
      positions: new Map([[0, 0]]),
      sink: {
        send: (e) => {
          sent.push(e.offset)
          return taking
        },
        drained: () =>
          new Promise<void>((resolve) => {
            waiting.drain = resolve
          }),
      },
    })
    await tail.start()
    try {
      // catching up: a page of 20 is read, the first write is refused, the other 19 wait in the log
      await sleep(300)
      expect(sent).toEqual([0])
      taking = true
      drain()
      while (sent.length < 20) await sleep(10)
      await sleep(100)
      expect(sent).toEqual(Array.from({ length: 20 }, (_, i) => i))

      // following live: a commit of 10 arrives whole from the writer; only its first goes out
      taking = false
      await publish('tail.stop', 20, 10)
      while (waiting.drain === undefined) await sleep(10)
      await sleep(200)
      expect(sent.slice(20)).toEqual([20])
      taking = true
      drain()
      while (sent.length < 30) await sleep(10)
      await sleep(100)
      expect(sent).toEqual(Array.from({ length: 30 }, (_, i) => i))
    } finally {
      tail.stop()
    }
  })

  it('skips nothing when two brokers wrote one partition with times out of offset order', async () => {
    // two brokers appending to one partition stamp their own clocks: a later offset may carry an
    // earlier time. Made here by hand: partition 0's offset 2 is later than everything of partition 1.
    await createTopic(broker.url, 'tail.clocks', { partitions: 2 })
    const batch = (partition: number) =>
      api(broker.url, 'POST', '/v1/topics/tail.clocks/events', {
        events: Array.from({ length: 10 }, (_, i) => ({ partition, data: i })),
      })
    expect((await batch(0)).status).toBe(201)
    expect((await batch(1)).status).toBe(201)
    const topicId = (await broker.services.topics.get('tail.clocks')).id
    const sql = broker.services.sql
    const [t0] = await sql`SELECT min(time) AS t FROM ql_events WHERE topic_id = ${topicId}`
    await sql`UPDATE ql_events SET time = ${t0!.t}::timestamptz WHERE topic_id = ${topicId} AND partition = 0`
    await sql`UPDATE ql_events SET time = ${t0!.t}::timestamptz + interval '300 ms' WHERE topic_id = ${topicId} AND partition = 1`
    await sql`UPDATE ql_events SET time = ${t0!.t}::timestamptz + interval '600 ms' WHERE topic_id = ${topicId} AND partition = 0 AND "offset" = 2`
    const sent: string[] = []
    const tail = new TopicTail({
      sql,
      fanout: broker.services.fanout,
      topicId,
      positions: new Map([
        [0, 0],
        [1, 0],
      ]),
      // pages of 4: the first holds partition 0's offsets 0, 1 and 3 by time, not 2
      pageSize: 4,
      sink: {
        send: (e) => {
          sent.push(`${e.partition}:${e.offset}`)
          return true
        },
        drained: () => Promise.resolve(),
      },
    })
    await tail.start()
    try {
      const deadline = Date.now() + 10_000
      while (sent.length < 20 && Date.now() < deadline) await sleep(20)
      await sleep(200)
      for (const p of [0, 1]) {
        expect(sent.filter((x) => x.startsWith(`${p}:`))).toEqual(
          Array.from({ length: 10 }, (_, i) => `${p}:${i}`),
        )
      }
    } finally {
      tail.stop()
    }
  })
})
