import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, readAll, sleep, startBroker } from './helpers'

let broker: Broker
beforeAll(async () => {
  // retention runs on demand in these tests; the background round stays out of the way
  broker = await startBroker({ retentionIntervalMs: 3_600_000 })
})
afterAll(() => broker.stop())

const publish = (topic: string, data: unknown[]) =>
  api(broker.url, 'POST', `/v1/topics/${topic}/events`, { events: data.map((d) => ({ data: d })) })

async function segmentTables(topicId: number): Promise<number> {
  const rows = await broker.services.sql`
    SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = ${`ql_events_${topicId}`}::regclass`
  return rows[0]!.n as number
}

describe('retention', () => {
  it('drops whole time segments past retentionMs and reads around the boundary stay correct', async () => {
    await createTopic(broker.url, 'telemetry.fps', { segmentMs: 1000, retentionMs: 2000 })
    const topic = await broker.services.topics.get('telemetry.fps')
    await publish('telemetry.fps', [0, 1, 2, 3, 4])
    // wait until the old segment has fully aged past the retention
    await sleep(3200)
    await publish('telemetry.fps', [5, 6, 7])
    expect(await segmentTables(topic.id)).toBeGreaterThan(1)
    const result = await broker.services.retention.runOnce()
    const dropped = result.dropped.filter((d) => d.topic === 'telemetry.fps' && d.reason === 'time')
    expect(dropped.length).toBeGreaterThan(0)
    // whole tables went: no row-by-row delete
    for (const d of dropped) {
      const [row] = await broker.services
        .sql`SELECT to_regclass(${`ql_events_${topic.id}_${d.startMs}`}) AS t`
      expect(row!.t).toBeNull()
    }

    // reading from 0 (now below the low watermark) starts at the first event kept
    const all = await readAll(broker.url, 'telemetry.fps', 0, 0)
    expect(all.map((e) => e.data)).toEqual([5, 6, 7])
    expect(all.map((e) => e.offset)).toEqual(['5', '6', '7'])
    const describe = await api(broker.url, 'GET', '/v1/topics/telemetry.fps')
    expect(describe.body.partitionInfo[0]).toEqual({ partition: 0, earliest: '5', next: '8' })
    // exactly at and just past the boundary
    const at = await api(broker.url, 'GET', '/v1/topics/telemetry.fps/events?partition=0&from=5&limit=1')
    expect(at.body.events.map((e: any) => e.data)).toEqual([5])
    expect(at.body.next).toBe('6')
    const past = await api(broker.url, 'GET', '/v1/topics/telemetry.fps/events?partition=0&from=7')
    expect(past.body.events.map((e: any) => e.data)).toEqual([7])
    expect(past.body.next).toBe('8')
    // offsets keep counting from where they were
    const more = await publish('telemetry.fps', [8])
    expect(more.body.receipts[0].offset).toBe('8')
  })

  it('drops the oldest segments once the topic is larger than retentionBytes, never the current one', async () => {
    await createTopic(broker.url, 'replays.raw', { segmentMs: 1000 })
    const blob = 'x'.repeat(4000)
    for (let s = 0; s < 3; s++) {
      await publish(
        'replays.raw',
        Array.from({ length: 20 }, (_, i) => ({ s, i, blob })),
      )
      await sleep(1100)
    }
    await publish('replays.raw', [{ s: 3, i: 0, blob }])
    const info = await api(broker.url, 'GET', '/v1/topics/replays.raw')
    const size = info.body.sizeBytes as number
    // a limit a bit over half the size: the oldest segments must go
    await api(broker.url, 'PATCH', '/v1/topics/replays.raw', { retentionBytes: Math.floor(size / 2) })
    const result = await broker.services.retention.runOnce()
    const dropped = result.dropped.filter((d) => d.topic === 'replays.raw')
    expect(dropped.length).toBeGreaterThan(0)
    expect(dropped.every((d) => d.reason === 'size')).toBe(true)
    const after = await api(broker.url, 'GET', '/v1/topics/replays.raw')
    expect(after.body.sizeBytes).toBeLessThan(size)
    const kept = await readAll(broker.url, 'replays.raw', 0)
    // what is left is the newest events, still in order, ending with the last one published
    expect(kept.at(-1).data.s).toBe(3)
    const offsets = kept.map((e) => Number(e.offset))
    expect(offsets).toEqual(offsets.map((_, i) => offsets[0]! + i))
    expect(offsets[0]).toBeGreaterThan(0)
    expect(after.body.partitionInfo[0].earliest).toBe(String(offsets[0]))
  })

  it('leaves a compact-only topic to compaction, and applies its retention to a compact,delete one', async () => {
    for (const cleanup of ['compact', 'compact,delete']) {
      const name = `profiles.${cleanup.replace(',', '-')}`
      await createTopic(broker.url, name, { segmentMs: 1000, retentionMs: 1000, cleanup })
      await api(broker.url, 'POST', `/v1/topics/${name}/events`, { events: [{ key: 'a', data: 1 }] })
    }
    await sleep(2200)
    const result = await broker.services.retention.runOnce()
    expect(result.dropped.filter((d) => d.topic === 'profiles.compact')).toEqual([])
    expect(result.dropped.filter((d) => d.topic === 'profiles.compact-delete').length).toBeGreaterThan(0)
    const kept = await api(broker.url, 'GET', '/v1/topics/profiles.compact/keys/a')
    expect(kept.body.data).toBe(1)
  })

  it('keeps everything when no retention is set', async () => {
    await createTopic(broker.url, 'audit.trail', { segmentMs: 1000 })
    await publish('audit.trail', [1])
    await sleep(1100)
    await publish('audit.trail', [2])
    const result = await broker.services.retention.runOnce()
    expect(result.dropped.filter((d) => d.topic === 'audit.trail')).toEqual([])
    expect((await readAll(broker.url, 'audit.trail', 0)).map((e) => e.data)).toEqual([1, 2])
  })
})
