import { createClient } from '@questlog/sdk-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { topicTable } from '../src/storage/segments'
import { api, createTopic, sleep, startBroker } from './helpers'

let broker: Broker
beforeAll(async () => {
  // compaction runs when the test says (runOnce), besides its own rounds
  broker = await startBroker({ compactionIntervalMs: 3_600_000, compactionMinDirtyRatio: 0 })
})
afterAll(() => broker.stop())

const SEAL_MS = 5000

async function topicId(name: string): Promise<number> {
  const [row] = await broker.services.sql`SELECT id FROM ql_topics WHERE name = ${name}`
  return Number(row!.id)
}

/** Events of the topic stored in sealed segments that a later event of their key supersedes. */
async function supersededInSealed(name: string, sealedBefore: number): Promise<number> {
  const branch = topicTable(await topicId(name))
  const [row] = await broker.services.sql.unsafe(
    `SELECT count(*) AS n FROM ${branch} e WHERE e.time < $1::timestamptz AND EXISTS (
       SELECT 1 FROM ${branch} n WHERE n.partition = e.partition AND n.key = e.key AND n."offset" > e."offset")`,
    [new Date(sealedBefore).toISOString()],
  )
  return Number(row!.n)
}

/** Runs compaction rounds until one finds nothing to do (a swap put off is tried again). */
async function compactFully(): Promise<number> {
  let swaps = 0
  for (let i = 0; i < 20; i++) {
    const r = await broker.services.compactor.runOnce()
    swaps += r.compacted.length
    if (r.compacted.length === 0 && r.deferred === 0) return swaps
  }
  throw new Error('compaction never settled')
}

describe('compacted topics', () => {
  it('refuses events without a key and a compacted topic that encrypts', async () => {
    await createTopic(broker.url, 'profiles.refuse', { cleanup: 'compact' })
    const res = await api(broker.url, 'POST', '/v1/topics/profiles.refuse/events', {
      events: [{ key: 'a', data: 1 }, { data: 2 }],
    })
    expect(res.status).toBe(400)
    expect(res.body.error.details.issues[0].path).toBe('events.1.key')
    const bad = await api(broker.url, 'POST', '/v1/topics', {
      name: 'profiles.sealed',
      cleanup: 'compact',
      encryption: 'topic',
    })
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.issues[0].path).toBe('cleanup')
    const wrong = await api(broker.url, 'POST', '/v1/topics', { name: 'profiles.x', cleanup: 'squash' })
    expect(wrong.status).toBe(400)
    const info = await api(broker.url, 'GET', '/v1/topics/profiles.refuse')
    expect(info.body).toMatchObject({ cleanup: 'compact', deleteRetentionMs: 86_400_000 })
    // key reads are for compacted topics only (a delete topic has no index by key)
    await createTopic(broker.url, 'plain.stream')
    const plain = await api(broker.url, 'GET', '/v1/topics/plain.stream/keys/a')
    expect(plain.status).toBe(400)
  })

  it('100,000 events over 1,000 keys compacted while producers append: latest values stay, superseded events and expired tombstones go, appends never stall, a group from earliest reads each key once, in order', async () => {
    const name = 'profiles.players'
    await createTopic(broker.url, name, {
      cleanup: 'compact',
      partitions: 4,
      segmentMs: 1000,
      deleteRetentionMs: 2000,
    })
    const keys = 1000
    const total = 100_000
    const tombstoned = new Set(Array.from({ length: 100 }, (_, i) => `p-${i * 10}`))
    const bus = createClient({ brokers: [broker.url], lingerMs: 5 })
    const latest = new Map<string, number>()
    const latencies: number[] = []
    let failed = 0
    let producing = true
    // compaction rounds run all along the production, as the broker's own would
    const swapsWhileProducing: number[] = []
    const compacting = (async () => {
      while (producing) {
        const r = await broker.services.compactor.runOnce()
        swapsWhileProducing.push(r.compacted.length)
        await sleep(200)
      }
    })()
    const t0 = performance.now()
    // ~20 s of production: every key written about 100 times, the tombstoned ones last with null
    const perTick = 500
    for (let sent = 0; sent < total; sent += perTick) {
      const tick = performance.now()
      const batch: Promise<unknown>[] = []
      for (let i = sent; i < sent + perTick; i++) {
        const key = `p-${i % keys}`
        const last = i >= total - keys
        const data = last && tombstoned.has(key) ? null : { v: i }
        latest.set(key, i)
        const start = performance.now()
        batch.push(
          bus.publish(name, data, { key }).then(
            () => latencies.push(performance.now() - start),
            () => failed++,
          ),
        )
      }
      await Promise.all(batch)
      await sleep(Math.max(0, 100 - (performance.now() - tick)))
    }
    const producedMs = performance.now() - t0
    producing = false
    await compacting
    await bus.close()
    expect(failed).toBe(0)
    expect(latencies.length).toBe(total)
    latencies.sort((a, b) => a - b)
    const p = (q: number) => Math.round(latencies[Math.floor((latencies.length - 1) * q)]!)
    console.log(
      `produced ${total} in ${Math.round(producedMs)} ms; publish latency p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${p(1)} ms; swaps during production: ${swapsWhileProducing.reduce((a, b) => a + b, 0)}`,
    )
    // compaction swapped segments in while the producers ran, and no append waited on it long
    expect(swapsWhileProducing.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    expect(p(1)).toBeLessThan(5000)

    // once every segment is sealed and the tombstones' retention is over, compaction settles
    await sleep(SEAL_MS + 2500)
    const sealedBefore = Date.now() - SEAL_MS
    await compactFully()
    expect(await supersededInSealed(name, sealedBefore)).toBe(0)

    for (const [key, i] of latest) {
      const res = await api(broker.url, 'GET', `/v1/topics/${name}/keys/${encodeURIComponent(key)}`)
      if (tombstoned.has(key)) {
        expect(res.status, key).toBe(404)
      } else {
        expect(res.status, key).toBe(200)
        expect(res.body.data).toEqual({ v: i })
      }
    }
    // the tombstoned keys are gone from the log itself
    const branch = topicTable(await topicId(name))
    const [left] = await broker.services.sql.unsafe(
      `SELECT count(*) AS n FROM ${branch} WHERE key = ANY($1)`,
      [[...tombstoned]],
    )
    expect(Number(left!.n)).toBe(0)
    const [rows] = await broker.services.sql.unsafe(`SELECT count(*) AS n FROM ${branch}`)
    expect(Number(rows!.n)).toBe(keys - tombstoned.size)

    // offsets stay as they were: the high watermarks count every event ever written
    const info = await api(broker.url, 'GET', `/v1/topics/${name}`)
    const next = (info.body.partitionInfo as Array<{ next: string }>).reduce((s, x) => s + Number(x.next), 0)
    expect(next).toBe(total)

    // a consumer group from earliest: across the gaps, each live key once, with its latest value
    const reader = createClient({ brokers: [broker.url] })
    const seen = new Map<string, number[]>()
    const lastOffset = new Map<number, number>()
    let n = 0
    for await (const ev of reader.subscribe<{ v: number }>(name, { group: 'cache', from: 'earliest' })) {
      const list = seen.get(ev.key!) ?? []
      list.push(ev.data.v)
      seen.set(ev.key!, list)
      expect(Number(ev.offset)).toBeGreaterThan(lastOffset.get(ev.partition) ?? -1)
      lastOffset.set(ev.partition, Number(ev.offset))
      await ev.ack()
      if (++n === keys - tombstoned.size) break
    }
    await reader.close()
    for (const [key, i] of latest) {
      if (tombstoned.has(key)) expect(seen.has(key)).toBe(false)
      else expect(seen.get(key), key).toEqual([i])
    }
  }, 240_000)
})
