import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, sleep, startBroker } from './helpers'
import { SseClient } from './sse'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

const publish = (topic: string, events: unknown[]) =>
  api(broker.url, 'POST', `/v1/topics/${topic}/events`, { events })

describe('SSE stream', () => {
  it('replays from earliest, then pushes live events as they commit', async () => {
    await createTopic(broker.url, 'match.feed', { partitions: 3 })
    await publish(
      'match.feed',
      [1, 2, 3].map((n) => ({ key: `k${n}`, data: n })),
    )
    const sse = new SseClient(`${broker.url}/v1/topics/match.feed/stream?from=earliest`)
    await sse.waitFor(3)
    expect(sse.status).toBe(200)
    const t0 = Date.now()
    await publish('match.feed', [{ key: 'k9', data: 'live' }])
    const msgs = await sse.waitFor(4)
    // pushed, not polled: well under the 5 s safety refresh
    expect(Date.now() - t0).toBeLessThan(2000)
    expect(
      sse
        .events()
        .map((e) => e.data)
        .sort(),
    ).toEqual([1, 2, 3, 'live'].sort())
    expect(msgs.every((m) => typeof m.id === 'string' && m.id.length > 0)).toBe(true)
    sse.close()
  })

  it('resumes with Last-Event-ID: the missed events arrive, none twice', async () => {
    await createTopic(broker.url, 'chat.lobby', { partitions: 4 })
    const first = new SseClient(`${broker.url}/v1/topics/chat.lobby/stream?from=latest`)
    await sleep(200)
    await publish(
      'chat.lobby',
      Array.from({ length: 20 }, (_, i) => ({ key: `p${i}`, data: i })),
    )
    await first.waitFor(20)
    const lastId = first.messages.at(-1)!.id!
    first.close()
    await first.done

    // while disconnected, more arrive on every partition
    await publish(
      'chat.lobby',
      Array.from({ length: 30 }, (_, i) => ({ key: `p${i}`, data: 100 + i })),
    )
    const second = new SseClient(`${broker.url}/v1/topics/chat.lobby/stream`, { 'last-event-id': lastId })
    await second.waitFor(30)
    await publish('chat.lobby', [{ key: 'p1', data: 999 }])
    await second.waitFor(31)
    await sleep(300)
    const got = second.events().map((e) => e.data)
    expect(got.length).toBe(31)
    expect(new Set(got).size).toBe(31)
    expect(got.filter((d) => d < 100)).toEqual([])
    expect(got.sort((a, b) => a - b)).toEqual([...Array.from({ length: 30 }, (_, i) => 100 + i), 999])
    // per partition, offsets arrive in order
    const byPartition = new Map<number, number[]>()
    for (const e of second.events())
      byPartition.set(e.partition, [...(byPartition.get(e.partition) ?? []), Number(e.offset)])
    for (const offsets of byPartition.values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b))
    second.close()
  })

  it('follows one partition from an offset, with key and type filters', async () => {
    await createTopic(broker.url, 'game.rounds', { partitions: 2 })
    await publish('game.rounds', [
      { partition: 1, type: 'game.kill', key: 'a', data: 1 },
      { partition: 1, type: 'game.score', key: 'a', data: 2 },
      { partition: 1, type: 'game.kill', key: 'b', data: 3 },
      { partition: 0, type: 'game.kill', key: 'a', data: 4 },
    ])
    const sse = new SseClient(`${broker.url}/v1/topics/game.rounds/stream?partition=1&from=1&type=game.kill`)
    await sse.waitFor(1)
    await sleep(300)
    expect(sse.events().map((e) => e.data)).toEqual([3])
    sse.close()
    const bad = await api(broker.url, 'GET', '/v1/topics/game.rounds/stream?from=sometime')
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.issues[0].path).toBe('from')
    const wrong = await api(broker.url, 'GET', '/v1/topics/game.rounds/stream', undefined, {
      'last-event-id': 'garbage',
    })
    expect(wrong.status).toBe(400)
  })

  it('hears events written by another broker on the same database (LISTEN/NOTIFY)', async () => {
    await createTopic(broker.url, 'cross.broker')
    const url = new URL(broker.services.config.databaseUrl!)
    const other = await (await import('./helpers')).startBroker({ databaseUrl: url.toString() })
    try {
      const sse = new SseClient(`${broker.url}/v1/topics/cross.broker/stream?from=latest`)
      await sleep(200)
      const t0 = Date.now()
      await api(other.url, 'POST', '/v1/topics/cross.broker/events', { data: 'from the other broker' })
      await sse.waitFor(1)
      expect(Date.now() - t0).toBeLessThan(2000)
      expect(sse.events()[0].data).toBe('from the other broker')
      sse.close()
    } finally {
      await other.stop()
    }
  })

  it('catches up a backlog of many pages over several partitions: every event once, each partition in order', async () => {
    await createTopic(broker.url, 'backlog.feed', { partitions: 3 })
    for (let b = 0; b < 5; b++)
      await publish(
        'backlog.feed',
        Array.from({ length: 700 }, (_, i) => ({ key: `player-${(b * 700 + i) % 7}`, data: b * 700 + i })),
      )
    const sse = new SseClient(`${broker.url}/v1/topics/backlog.feed/stream?from=earliest`)
    await sse.waitFor(3500, 30_000)
    await sleep(200)
    const events = sse.events()
    sse.close()
    expect(events).toHaveLength(3500)
    expect(new Set(events.map((e) => e.data)).size).toBe(3500)
    for (const p of [0, 1, 2]) {
      const offsets = events.filter((e) => e.partition === p).map((e) => Number(e.offset))
      expect(offsets).toEqual(offsets.map((_, i) => i))
    }
  })
})
