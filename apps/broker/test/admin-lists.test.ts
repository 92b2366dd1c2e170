import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { lowWatermarks, offsetsForTime } from '../src/storage/event-store'
import { api, createTopic, freshDatabase, sleep, startBroker, trpcCall, waitFor } from './helpers'

let broker: Broker
let databaseUrl: string
beforeAll(async () => {
  databaseUrl = await freshDatabase()
  broker = await startBroker({ statsIntervalMs: 200, databaseUrl })
})
afterAll(() => broker.stop())

const page = async (path: string, input: unknown) => {
  const res = await trpcCall(broker.url, 'query', path, input)
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.result.data as { total: number; offset: number; rows: any[] }
}

const publish = (topic: string, n: number) =>
  api(broker.url, 'POST', `/v1/topics/${topic}/events`, {
    events: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, data: { i, pad: 'x'.repeat(100) } })),
  })

describe('the console lists, one query a page', () => {
  it('pages topics with counts and size, searches by part of the name, sorts, and marks dead-letter topics', async () => {
    for (let i = 0; i < 30; i++) await createTopic(broker.url, `lists.t${String(i).padStart(2, '0')}`)
    await createTopic(broker.url, 'lists.busy', { partitions: 3 })
    await publish('lists.busy', 40)
    await publish('lists.t07', 5)
    const sub = await trpcCall(broker.url, 'mutation', 'subscriptions.create', {
      name: 'lists-sub',
      topic: 'lists.busy',
      mode: 'queue',
      from: 'earliest',
    })
    expect(sub.status).toBe(200)
    // the dead-letter topic of that subscription, as the broker names it
    await createTopic(broker.url, 'lists-sub.dlq')

    const first = await page('topics.page', { search: 'lists', limit: 10 })
    expect(first.total).toBe(32)
    expect(first.rows).toHaveLength(10)
    expect(first.rows[0].name).toBe('lists-sub.dlq')
    const last = await page('topics.page', { search: 'lists', limit: 10, offset: 30 })
    expect(last.rows.map((r) => r.name)).toEqual(['lists.t28', 'lists.t29'])

    const byEvents = await page('topics.page', { search: 'LISTS.', sort: 'events', desc: true, limit: 2 })
    expect(byEvents.rows.map((r) => [r.name, r.events])).toEqual([
      ['lists.busy', 40],
      ['lists.t07', 5],
    ])
    expect(byEvents.rows[0].partitions).toBe(3)
    expect(byEvents.rows[0].sizeBytes).toBeGreaterThan(4000)

    const found = await page('topics.page', { search: 't1' })
    expect(found.rows.map((r) => r.name)).toEqual(Array.from({ length: 10 }, (_, i) => `lists.t1${i}`))
    // the search is text, not a pattern
    expect((await page('topics.page', { search: '%' })).total).toBe(0)
    expect((await page('topics.page', { search: 'lists_t' })).total).toBe(0)

    const dlq = await page('topics.page', { kind: 'dead-letters' })
    expect(dlq.rows.map((r) => [r.name, r.deadLetterOf])).toEqual([['lists-sub.dlq', 'lists-sub']])
    const plain = await page('topics.page', { kind: 'topics', search: 'lists' })
    expect(plain.total).toBe(31)
    expect(plain.rows.every((r) => r.deadLetterOf === null)).toBe(true)
  })

  it('gives each topic its append rate from the log counters, between two listings', async () => {
    await createTopic(broker.url, 'rates.a')
    const before = await page('topics.page', { search: 'rates.a' })
    expect(before.rows[0].ratePerSecond).toBeNull()
    await sleep(1100)
    await publish('rates.a', 50)
    const after = await page('topics.page', { search: 'rates.a' })
    // 50 events over the time between the listings (at least 1.1 s, a few seconds on a loaded machine)
    expect(after.rows[0].ratePerSecond).toBeGreaterThan(0)
    expect(after.rows[0].ratePerSecond).toBeLessThanOrEqual(50 / 1.1)
  })

  it('pages subscriptions with lag in events and seconds, and filters by mode and state', async () => {
    await createTopic(broker.url, 'subs.orders', { partitions: 2 })
    for (const [name, mode] of [
      ['subs-a', 'queue'],
      ['subs-b', 'stream'],
      ['subs-c', 'stream'],
    ] as const) {
      const res = await trpcCall(broker.url, 'mutation', 'subscriptions.create', {
        name,
        topic: 'subs.orders',
        mode,
        from: 'earliest',
      })
      expect(res.status).toBe(200)
    }
    await trpcCall(broker.url, 'mutation', 'subscriptions.pause', { name: 'subs-c' })
    await publish('subs.orders', 12)
    await sleep(1100)

    const rows = await waitFor(
      () => page('subscriptions.page', { search: 'subs-' }),
      (p) => p.rows.every((r) => r.lag === 12 && r.lagSeconds >= 1),
    )
    expect(rows.total).toBe(3)
    expect(rows.rows.map((r) => [r.name, r.mode, r.lag])).toEqual([
      ['subs-a', 'queue', 12],
      ['subs-b', 'stream', 12],
      ['subs-c', 'stream', 12],
    ])
    expect(rows.rows[0].lagSeconds).toBeGreaterThanOrEqual(1)
    expect(rows.rows[0].statsAt).not.toBeNull()

    // a search matches the topic pattern too
    expect((await page('subscriptions.page', { search: 'SUBS.ORD' })).total).toBe(3)
    const streams = await page('subscriptions.page', { search: 'subs-', mode: 'stream' })
    expect(streams.rows.map((r) => r.name)).toEqual(['subs-b', 'subs-c'])
    const paused = await page('subscriptions.page', { search: 'subs-', state: 'paused' })
    expect(paused.rows.map((r) => r.name)).toEqual(['subs-c'])
    const desc = await page('subscriptions.page', { search: 'subs-', sort: 'name', desc: true, limit: 1 })
    expect(desc).toMatchObject({ total: 3, rows: [{ name: 'subs-c' }] })
  })

  it("reads one topic's watermarks locking that topic's log tables only, not every topic's", async () => {
    for (let i = 0; i < 5; i++) await createTopic(broker.url, `locks.t${i}`)
    await publish('locks.t3', 3)
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
    try {
      const [row] = await sql`SELECT id FROM ql_topics WHERE name = 'locks.t3'`
      const id = Number(row!.id)
      for (const read of [
        (tx: postgres.TransactionSql) => lowWatermarks(tx as never, id),
        (tx: postgres.TransactionSql) => offsetsForTime(tx as never, id, 0),
      ]) {
        const locked = await sql.begin(async (tx) => {
          await read(tx)
          // the log tables (ql_events_<topic id> and its segments ql_events_<id>_<start>) it holds a lock on
          const rows = await tx`
            SELECT DISTINCT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE l.pid = pg_backend_pid() AND c.relkind IN ('r', 'p') AND c.relname ~ '^ql_events_[0-9]+'`
          return rows.map((r) => r.relname as string)
        })
        expect(locked.length).toBeGreaterThan(0)
        const topicOf = (relname: string) => Number(relname.split('_')[2])
        expect(new Set(locked.map(topicOf))).toEqual(new Set([Number(id)]))
      }
    } finally {
      await sql.end()
    }
  })

  it('refuses a page past its bounds with the field path', async () => {
    const res = await trpcCall(broker.url, 'query', 'topics.page', { limit: 5000 })
    expect(res.status).toBe(400)
    expect(res.body.error.data.questlog.details.issues[0].path).toBe('limit')
    const sorted = await trpcCall(broker.url, 'query', 'subscriptions.page', { sort: 'DROP TABLE' })
    expect(sorted.status).toBe(400)
    expect(sorted.body.error.data.questlog.details.issues[0].path).toBe('sort')
  })
})
