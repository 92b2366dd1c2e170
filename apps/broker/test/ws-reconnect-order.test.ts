import { createClient, type QuestlogClient } from '@questlog/sdk-node'
import postgres from 'postgres'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { webSocketConnections } from '../src/ws/ws-route'
import {
  api,
  cancelBackends,
  createTopic,
  freshDatabase,
  holdRow,
  readAll,
  sleep,
  startBroker,
  waitingAppends,
} from './helpers'

/** Every publish got its receipt (a refusal fails with its message). */
async function expectStored(...publishes: Promise<unknown>[]): Promise<void> {
  for (const r of await Promise.allSettled(publishes))
    expect(r.status, r.status === 'rejected' ? String(r.reason) : '').toBe('fulfilled')
}

// A producer's batch stored ahead of an earlier one of its own that failed puts
// that one below the producer's last stored seq for good: its resend is refused.
// These tests fail an append at a chosen point (a row lock held from another
// session, the waiting statement cancelled) and check that what was sent after
// it is stored after it.
describe('a batch sent after one that failed', () => {
  let broker: Broker
  let sql: postgres.Sql
  let bus: QuestlogClient | undefined
  beforeAll(async () => {
    const databaseUrl = await freshDatabase()
    // every receipt asks the client to hold back its next batch for 50 ms; appends wait on the locks
    // these tests hold as long as they hold them, on the connection they share
    broker = await startBroker({ databaseUrl, softQueueEvents: 1, maxBatchEvents: 1, lockWaitMs: 60_000 })
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

  // the lost batch is never stored; the one after it waits out a slow-down meanwhile, and the
  // connection is back by the time it goes
  it('behind one lost with its connection is sent again after it, so both are stored, in order', async () => {
    bus = createClient({ brokers: [broker.url], backoff: { initialMs: 5, maxMs: 20 } })
    // connected, and both topics written once
    await bus.publish('order.fast', { warm: true })
    await bus.publish('order.held', { n: 0 }, { key: 'k' })

    const releaseFast = await holdRow(sql, 'partition', 'order.fast')
    const releaseHeld = await holdRow(sql, 'partition', 'order.held')
    // v waits on its lock, w behind it, and the broker answers w with a slow-down; x, sent after
    // them, waits on its own lock (or behind them on a shared write connection)
    const v = bus.publish('order.fast', { v: 1 })
    await waitingAppends(sql)
    const w = bus.publish('order.fast', { v: 2 })
    const x = bus.publish('order.held', { n: 1 }, { key: 'k' })
    await sleep(50)
    // v and w are stored; w's receipt says to hold back the next batch
    await releaseFast()
    await Promise.all([v, w])
    expect(bus.stats().slowdowns).toBeGreaterThan(0)
    const lost = await waitingAppends(sql)

    // y waits out the slow-down while the connection drops and x with it
    const y = bus.publish('order.held', { n: 2 }, { key: 'k' })
    for (const c of webSocketConnections(broker.services)) c.terminate()
    // x's append fails; the write connection stays up for y
    await cancelBackends(sql, lost)
    await releaseHeld()

    await expectStored(x, y)
    const stored = await readAll(broker.url, 'order.held', 0)
    expect(stored.map((e) => e.data.n)).toEqual([0, 1, 2])
    expect(bus.stats().retries).toBeGreaterThan(0)
  })

  it('is not stored when the append sent before it on its partition fails, and both go again in order', async () => {
    bus = createClient({ brokers: [broker.url], backoff: { initialMs: 5, maxMs: 20 } })
    await createTopic(broker.url, 'order.piped')
    await bus.publish('order.piped', { n: 0 })
    const releasePartition = await holdRow(sql, 'partition', 'order.piped')
    const releaseSeqRow = await holdRow(sql, 'producer', 'order.piped')

    // w (another publisher's) waits on the partition; x and y queue behind it, one batch each
    const w = api(broker.url, 'POST', '/v1/topics/order.piped/events', { data: { n: -1 } })
    await waitingAppends(sql)
    const x = bus.publish('order.piped', { n: 1 })
    // (a batch of its own)
    await sleep(20)
    const y = bus.publish('order.piped', { n: 2 })
    await sleep(100)
    // w is stored; x's append then waits on the seq row, y's right behind it on the same database connection
    await releasePartition()
    expect((await w).status).toBe(201)
    const waiting = await waitingAppends(sql)
    // x's append fails
    await cancelBackends(sql, waiting)
    await sleep(50)
    await releaseSeqRow()

    await expectStored(x, y)
    const stored = await readAll(broker.url, 'order.piped', 0)
    expect(stored.map((e) => e.data.n)).toEqual([0, -1, 1, 2])
    expect(bus.stats().retries).toBeGreaterThan(0)
  })

  it('waiting in the queue when a batch of its producer fails is refused, and goes again after it', async () => {
    bus = createClient({ brokers: [broker.url], backoff: { initialMs: 5, maxMs: 20 } })
    await createTopic(broker.url, 'order.queued')
    await bus.publish('order.queued', { n: 0 })
    const releaseSeqRow = await holdRow(sql, 'producer', 'order.queued')
    // x's append waits on the seq row; y waits in the partition's queue
    const x = bus.publish('order.queued', { n: 1 })
    const waiting = await waitingAppends(sql)
    const y = bus.publish('order.queued', { n: 2 })
    await sleep(50)
    await cancelBackends(sql, waiting)
    await sleep(50)
    await releaseSeqRow()

    await expectStored(x, y)
    const stored = await readAll(broker.url, 'order.queued', 0)
    expect(stored.map((e) => e.data.n)).toEqual([0, 1, 2])
  })
})

describe('an append the database refuses', () => {
  let broker: Broker
  let sql: postgres.Sql
  beforeAll(async () => {
    const databaseUrl = await freshDatabase()
    broker = await startBroker({ databaseUrl, maxBatchEvents: 2, lockWaitMs: 60_000 })
    sql = postgres(databaseUrl, { max: 2, onnotice: () => {} })
    await createTopic(broker.url, 'order.dedupe')
  })
  afterAll(async () => {
    await broker?.stop()
    await sql?.end()
  })

  it('when cancelled is answered 503 unavailable, and nothing of it is stored', async () => {
    const publish = (body: unknown) => api(broker.url, 'POST', '/v1/topics/order.cancel/events', body)
    await createTopic(broker.url, 'order.cancel')
    const release = await holdRow(sql, 'partition', 'order.cancel')
    const answer = publish({ data: { n: 1 } })
    await cancelBackends(sql, await waitingAppends(sql))
    await release()

    const res = await answer
    expect(res.status).toBe(503)
    expect(res.body.error).toMatchObject({ code: 'unavailable', details: { reason: '57014' } })
    expect(res.body.error.message).toMatch(/retry/)
    expect(await readAll(broker.url, 'order.cancel', 0)).toEqual([])
    // and the broker keeps serving
    expect((await publish({ data: { n: 2 } })).status).toBe(201)
  })

  it('for a taken dedupe key is written again without it, before the batch sent behind it', async () => {
    const publish = (body: unknown) => api(broker.url, 'POST', '/v1/topics/order.dedupe/events', body)
    expect((await publish({ data: { n: 'first' }, dedupeKey: 'dk' })).status).toBe(201)
    const release = await holdRow(sql, 'partition', 'order.dedupe')
    // w waits on the partition; x (a repeat of a dedupe key, and a new event) and y queue behind it
    const w = publish({ data: { n: 'w' } })
    await sleep(50)
    const x = publish({ events: [{ data: { n: 'again' }, dedupeKey: 'dk' }, { data: { n: 'x' } }] })
    await sleep(20)
    const y = publish({ data: { n: 'y' } })
    await sleep(50)
    // x and y go out back to back; x's dedupe key is taken, so it is written again without it
    await release()

    const [rw, rx, ry] = await Promise.all([w, x, y])
    expect([rw.status, rx.status, ry.status]).toEqual([201, 201, 201])
    expect(rx.body.receipts[0]).toMatchObject({ offset: '0', duplicate: true })
    const stored = await readAll(broker.url, 'order.dedupe', 0)
    expect(stored.map((e) => e.data.n)).toEqual(['first', 'w', 'x', 'y'])
  })
})
