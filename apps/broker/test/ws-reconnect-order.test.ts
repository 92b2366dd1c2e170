import { createClient, type QuestlogClient } from '@questlog/sdk-node'
import postgres from 'postgres'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { webSocketConnections } from '../src/ws/ws-route'
import { createTopic, freshDatabase, readAll, sleep, startBroker } from './helpers'

// A batch that was in flight when the connection dropped is never stored; the
// batch sent after it waits out a slow-down from the broker meanwhile, and the
// connection is back by the time it goes. It must not be stored ahead of the lost
// one: the lost one is then resent below its producer's last stored seq.
describe('a batch behind one lost with its connection', () => {
  let broker: Broker
  let sql: postgres.Sql
  let bus: QuestlogClient | undefined
  beforeAll(async () => {
    const databaseUrl = await freshDatabase()
    // every receipt asks the client to hold back its next batch for 50 ms
    broker = await startBroker({ databaseUrl, softQueueEvents: 1 })
    sql = postgres(databaseUrl, { max: 4, onnotice: () => {} })
    await createTopic(broker.url, 'order.fast')
    await createTopic(broker.url, 'order.held')
  })
  afterEach(async () => {
    await bus?.close()
  })
  afterAll(async () => {
    await broker?.stop()
    await sql?.end()
  })

  /** Holds a topic's partition row lock from another session: its appends wait for it. */
  async function hold(topic: string): Promise<() => Promise<void>> {
    const conn = await sql.reserve()
    await conn`BEGIN`
    await conn`SELECT next_offset FROM ql_partitions
               WHERE topic_id = (SELECT id FROM ql_topics WHERE name = ${topic}) FOR UPDATE`
    return async () => {
      await conn`ROLLBACK`
      conn.release()
    }
  }

  /** Backends of the broker running an append that waits for a lock. */
  const waitingAppends = async () =>
    (
      await sql`SELECT pid FROM pg_stat_activity
                WHERE wait_event_type = 'Lock' AND query LIKE '%ql_append%'`
    ).map((r) => r.pid as number)

  it('is sent again after the lost one, so both are stored, in publish order', async () => {
    bus = createClient({ brokers: [broker.url], backoff: { initialMs: 5, maxMs: 20 } })
    // connected, and both topics written once
    await bus.publish('order.fast', { warm: true })
    await bus.publish('order.held', { n: 0 }, { key: 'k' })

    const releaseFast = await hold('order.fast')
    const releaseHeld = await hold('order.held')
    // v waits on its lock, w behind it, and the broker answers w with a slow-down; x, sent after
    // them, waits on its own lock (or behind them on a shared write connection)
    const v = bus.publish('order.fast', { v: 1 })
    while ((await waitingAppends()).length === 0) await sleep(5)
    const w = bus.publish('order.fast', { v: 2 })
    const x = bus.publish('order.held', { n: 1 }, { key: 'k' })
    await sleep(50)
    // v and w are stored; w's receipt says to hold back the next batch
    await releaseFast()
    await Promise.all([v, w])
    expect(bus.stats().slowdowns).toBeGreaterThan(0)
    let lost = await waitingAppends()
    while (lost.length === 0) lost = await waitingAppends()

    // y waits out the slow-down while the connection drops and x with it
    const y = bus.publish('order.held', { n: 2 }, { key: 'k' })
    for (const c of webSocketConnections(broker.services)) c.terminate()
    // x's append fails; the write connection stays up for y
    await sql`SELECT pg_cancel_backend(pid) FROM unnest(${lost}::int[]) AS pid`
    await releaseHeld()

    const [rx, ry] = await Promise.allSettled([x, y])
    expect(rx.status, String((rx as PromiseRejectedResult).reason)).toBe('fulfilled')
    expect(ry.status, String((ry as PromiseRejectedResult).reason)).toBe('fulfilled')
    const stored = await readAll(broker.url, 'order.held', 0)
    expect(stored.map((e) => e.data.n)).toEqual([0, 1, 2])
    expect(bus.stats().retries).toBeGreaterThan(0)
  })
})
