import { createClient, type Status } from '@questlog/sdk-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { webSocketConnections } from '../src/ws/ws-route'
import { createTopic, readAll, sleep, startBroker } from './helpers'

const TOTAL = 10_000
const KEYS = 50
const PARTITIONS = 4

describe('Node SDK publishing through connection cuts', () => {
  let broker: Broker
  beforeAll(async () => {
    broker = await startBroker()
    await createTopic(broker.url, 'ws.cuts', { partitions: PARTITIONS })
  })
  afterAll(async () => {
    await broker?.stop()
  })

  it('stores each of 10,000 events exactly once, in order per key, though the broker cuts the socket 6 times', async () => {
    const bus = createClient({
      brokers: [broker.url],
      maxBatchEvents: 200,
      backoff: { initialMs: 20, maxMs: 200 },
    })
    const states: Status['state'][] = []
    void (async () => {
      for await (const s of bus.status()) states.push(s.state)
    })()

    // cut at fixed points of progress, alternating an abrupt reset and a clean close
    const cutAt = [1000, 2500, 4000, 5500, 7000, 8500]
    let cuts = 0
    const cutter = (async () => {
      for (const mark of cutAt) {
        while (bus.stats().stored < mark) await sleep(2)
        for (const c of webSocketConnections(broker.services)) {
          if (cuts % 2 === 0) c.terminate()
          else c.shutdown('going_away', 'test cut')
        }
        cuts++
      }
    })()

    const receipts: Promise<unknown>[] = []
    for (let seq = 0; seq < TOTAL; seq++) {
      const key = `player-${seq % KEYS}`
      receipts.push(bus.publish('ws.cuts', { key, seq }, { key }))
      // a game loop publishes over time, not all at once
      if (seq % 250 === 249) await sleep(5)
    }
    const all = (await Promise.all(receipts)) as Array<{ duplicate: boolean }>
    await cutter
    await bus.close()

    expect(cuts).toBe(cutAt.length)
    // batches in flight at a cut were stored but their receipts lost: the retry got the original receipts
    expect(bus.stats().retries).toBeGreaterThan(0)
    expect(all.some((r) => r.duplicate)).toBe(true)
    expect(states.filter((s) => s === 'reconnecting').length).toBeGreaterThanOrEqual(cutAt.length)

    const stored = []
    for (let p = 0; p < PARTITIONS; p++) stored.push(...(await readAll(broker.url, 'ws.cuts', p)))
    expect(stored).toHaveLength(TOTAL)
    const seqs = new Set(stored.map((e) => e.data.seq))
    expect(seqs.size).toBe(TOTAL)

    // per key, offsets (within the key's one partition) follow the publish order
    const byKey = new Map<string, Array<{ offset: number; seq: number; partition: number }>>()
    for (const e of stored) {
      const list = byKey.get(e.key) ?? []
      list.push({ offset: Number(e.offset), seq: e.data.seq, partition: e.partition })
      byKey.set(e.key, list)
    }
    expect(byKey.size).toBe(KEYS)
    for (const list of byKey.values()) {
      expect(new Set(list.map((x) => x.partition)).size).toBe(1)
      list.sort((a, b) => a.offset - b.offset)
      for (let i = 1; i < list.length; i++) expect(list[i]!.seq).toBeGreaterThan(list[i - 1]!.seq)
    }
  })
})
