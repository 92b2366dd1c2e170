import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, freshDatabase, readAll, sleep, startBroker, waitingAppends } from './helpers'

// Partitions share a few write connections, where PostgreSQL runs what was sent in order. A
// partition whose row lock another session holds must stall only itself, not the partitions
// that share its connection.
describe('a stalled partition stalls only itself', () => {
  let broker: Broker
  let sql: postgres.Sql
  beforeAll(async () => {
    const databaseUrl = await freshDatabase()
    // a pool of 8 makes two write connections: partitions of the same parity share one
    broker = await startBroker({ databaseUrl, poolSize: 8 })
    sql = postgres(databaseUrl, { max: 4, onnotice: () => {} })
    await createTopic(broker.url, 'lanes.t', { partitions: 4 })
  })
  afterAll(async () => {
    await broker?.stop()
    await sql?.end()
  })

  const publish = async (partition: number, i: number) => {
    const t = performance.now()
    const res = await api(broker.url, 'POST', '/v1/topics/lanes.t/events', { partition, data: { i } })
    return { status: res.status, ms: performance.now() - t }
  }

  it('serves a partition on the same write connection while another one waits for a lock held elsewhere', async () => {
    // partition 0's row, held by another session for 6 s (an operator's transaction, a stuck client)
    const conn = await sql.reserve()
    await conn`BEGIN`
    await conn`SELECT 1 FROM ql_partitions WHERE topic_id = (SELECT id FROM ql_topics WHERE name = 'lanes.t')
                AND partition = 0 FOR UPDATE`
    const held = publish(0, -1)
    await waitingAppends(sql)
    // partition 2 writes on the same connection as partition 0
    const others: Array<{ status: number; ms: number }> = []
    const started = Date.now()
    while (Date.now() - started < 4000) {
      others.push(...(await Promise.all([0, 1, 2, 3].map((i) => publish(2, others.length + i)))))
      await sleep(50)
    }
    await conn`ROLLBACK`
    conn.release()
    const blocked = await held
    expect(blocked.status).toBe(201)
    expect(others.every((o) => o.status === 201)).toBe(true)
    const slowest = Math.max(...others.map((o) => o.ms))
    // the first publish of partition 2 may wait out partition 0's short lock wait once; no longer
    expect(slowest).toBeLessThan(1500)
    const stored = await readAll(broker.url, 'lanes.t', 2)
    // (four at a time: in any order among themselves)
    expect(stored.map((e) => e.data.i).sort((a, b) => a - b)).toEqual(others.map((_, i) => i))
    expect((await readAll(broker.url, 'lanes.t', 0)).map((e) => e.data.i)).toEqual([-1])
  })
})
