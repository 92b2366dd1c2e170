import postgres from 'postgres'
import { describe, expect, it } from 'vitest'
import { ADMIN, brokerProcesses, waitFor } from './broker-processes'
import { api, sleep } from './helpers'

const procs = brokerProcesses()
const COMPACTING = { QUESTLOG_COMPACTION_INTERVAL_MS: '300', QUESTLOG_COMPACTION_MIN_DIRTY_RATIO: '0' }

describe('compaction in a cluster', () => {
  it('runs on the one broker holding its lease, moves to another when that one is killed, and loses no latest value', async () => {
    const { databaseUrl, brokers } = await procs.cluster(2, COMPACTING)
    const meta = postgres(databaseUrl, { max: 1, onnotice: () => {} })
    const topic = 'profiles.cluster'
    const created = await api(
      brokers[0]!.url,
      'POST',
      '/v1/topics',
      { name: topic, cleanup: 'compact', partitions: 2, segmentMs: 1000 },
      ADMIN,
    )
    expect(created.status).toBe(201)
    const latest = new Map<string, number>()
    let v = 0
    let target = brokers[0]!
    let producing = true
    const producer = (async () => {
      while (producing) {
        const events = Array.from({ length: 50 }, (_, k) => ({ key: `p-${k}`, data: { v: ++v } }))
        // a batch cut off by the kill may be stored or not: the next one supersedes every key anyway
        const res = await api(target.url, 'POST', `/v1/topics/${topic}/events`, { events }, ADMIN).catch(
          () => undefined,
        )
        if (!res) continue
        expect(res.status).toBe(201)
        for (const e of events) latest.set(e.key, e.data.v)
        await sleep(100)
      }
    })()
    const compactedBy = async () =>
      (await meta`SELECT start_ms, compacted_by FROM ql_segments WHERE compacted_at IS NOT NULL`).map(
        (r) => ({
          start: Number(r.start_ms),
          by: r.compacted_by as string,
        }),
      )
    const first = await waitFor('a compacted segment', 60_000, async () => {
      const rows = await compactedBy()
      return rows.length >= 2 ? rows : undefined
    })
    const [lease] = await meta`SELECT holder FROM ql_leases WHERE name = 'singleton:compaction'`
    const holder = brokers.find((b) => b.id === lease!.holder)!
    const other = brokers.find((b) => b !== holder)!
    // every rewrite so far was the holder's
    expect(new Set(first.map((r) => r.by))).toEqual(new Set([holder.id]))
    target = other
    await holder.kill()
    const before = new Set(first.map((r) => r.start))
    const after = await waitFor('a segment compacted by the survivor', 60_000, async () => {
      const rows = (await compactedBy()).filter((r) => r.by === other.id)
      return rows.length >= 2 ? rows : undefined
    })
    expect(after.some((r) => !before.has(r.start))).toBe(true)
    producing = false
    await producer
    for (const [key, value] of latest) {
      const res = await api(other.url, 'GET', `/v1/topics/${topic}/keys/${key}`, undefined, ADMIN)
      expect(res.status).toBe(200)
      expect(res.body.data).toEqual({ v: value })
    }
    await meta.end()
  }, 180_000)
})
