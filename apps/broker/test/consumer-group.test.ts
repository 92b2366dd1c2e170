import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, sleep, startBroker } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

const pull = async (member: string, max = 50) => {
  const res = await api(broker.url, 'POST', '/v1/subscriptions/analytics/pull', { member, max, waitMs: 0 })
  expect(res.status).toBe(200)
  return res.body.deliveries as Array<{ token: string; event: any }>
}
const ack = (tokens: string[]) => api(broker.url, 'POST', '/v1/subscriptions/analytics/ack', { tokens })

describe('stream subscriptions (consumer groups)', () => {
  it('divides 8 partitions among 3 members; a member that leaves hands its partitions over, nothing committed is lost', async () => {
    await createTopic(broker.url, 'game.telemetry', { partitions: 8 })
    const created = await api(broker.url, 'POST', '/v1/subscriptions', {
      name: 'analytics',
      topic: 'game.*',
      mode: 'stream',
      from: 'earliest',
      sessionTimeoutMs: 1000,
    })
    expect(created.status).toBe(201)
    const total = 800
    await api(broker.url, 'POST', '/v1/topics/game.telemetry/events', {
      events: Array.from({ length: total }, (_, i) => ({
        key: `player-${i % 50}`,
        dedupeKey: `t-${i}`,
        data: { i },
      })),
    })

    const processed = new Map<number, number>()
    const handle = (ds: Array<{ event: any }>) => {
      for (const d of ds) processed.set(d.event.data.i, (processed.get(d.event.data.i) ?? 0) + 1)
    }
    // all three join, each handling what its first pull brings
    for (const m of ['m1', 'm2', 'm3']) {
      const ds = await pull(m, 1)
      handle(ds)
      await ack(ds.map((x) => x.token))
    }
    const report = await api(broker.url, 'GET', '/v1/subscriptions/analytics')
    const owners = report.body.members as Array<{ member: string; partitions: Array<{ partition: number }> }>
    expect(owners.map((o) => o.member)).toEqual(['m1', 'm2', 'm3'])
    const owned = owners.flatMap((o) => o.partitions.map((p) => p.partition)).sort((a, b) => a - b)
    expect(owned).toEqual([0, 1, 2, 3, 4, 5, 6, 7])

    // process: each member handles a share; m3 takes a batch and dies without acking it
    const lost = await pull('m3', 30)
    expect(lost.length).toBeGreaterThan(0)
    handle(lost)
    // per partition, events arrive in offset order
    const last = new Map<number, number>()
    let rewinds = 0
    const deadline = Date.now() + 20_000
    const lag = async () => (await api(broker.url, 'GET', '/v1/subscriptions/analytics')).body.lag as number
    while ((processed.size < total || (await lag()) > 0) && Date.now() < deadline) {
      for (const m of ['m1', 'm2']) {
        const ds = await pull(m)
        for (const d of ds) {
          // in offset order per partition, unless a rebalance sent the member back to the committed offset
          if (Number(d.event.offset) <= (last.get(d.event.partition) ?? -1)) rewinds++
          last.set(d.event.partition, Number(d.event.offset))
        }
        handle(ds)
        if (ds.length === 0) continue
        const res = await ack(ds.map((d) => d.token))
        // an ack racing a rebalance is refused; the new owner redelivers from the committed offset
        if (res.status !== 200) expect(res.body.error.code).toBe('attempt_expired')
      }
      await sleep(50)
    }
    // every event was processed at least once: m3's un-acked ones again by its successor
    expect(processed.size).toBe(total)
    // rewinds happen only around the hand-over, never as a steady reordering
    expect(rewinds).toBeLessThan(total / 4)
    for (const d of lost) expect(processed.get(d.event.data.i)).toBeGreaterThanOrEqual(2)

    const after = await api(broker.url, 'GET', '/v1/subscriptions/analytics')
    expect(after.body.members.map((m: any) => m.member)).toEqual(['m1', 'm2'])
    expect(after.body.lag).toBe(0)
    // m3's late ack is refused: its partitions belong to others now
    const late = await ack([lost[0]!.token])
    expect(late.status).toBe(409)
    expect(late.body.error.code).toBe('attempt_expired')
  })

  it('pauses, resumes and resets to an offset', async () => {
    await createTopic(broker.url, 'game.rounds')
    await api(broker.url, 'POST', '/v1/subscriptions', {
      name: 'rounds',
      topic: 'game.rounds',
      from: 'earliest',
    })
    await api(broker.url, 'POST', '/v1/topics/game.rounds/events', {
      events: [1, 2, 3, 4].map((data) => ({ data })),
    })
    const pullRounds = async () =>
      (await api(broker.url, 'POST', '/v1/subscriptions/rounds/pull', { member: 'solo', max: 10 })).body
        .deliveries
    expect((await api(broker.url, 'POST', '/v1/subscriptions/rounds/pause')).body.paused).toBe(true)
    expect(await pullRounds()).toEqual([])
    await api(broker.url, 'POST', '/v1/subscriptions/rounds/resume')
    const got = await pullRounds()
    expect(got.map((d: any) => d.event.data)).toEqual([1, 2, 3, 4])
    await api(broker.url, 'POST', '/v1/subscriptions/rounds/ack', { tokens: got.map((d: any) => d.token) })
    expect((await api(broker.url, 'GET', '/v1/subscriptions/rounds')).body.lag).toBe(0)
    const reset = await api(broker.url, 'POST', '/v1/subscriptions/rounds/reset', { to: { offset: 2 } })
    expect(reset.body.lag).toBe(2)
    // the member reads again from the reset position
    const again = await pullRounds()
    expect(again.map((d: any) => d.event.data)).toEqual([3, 4])
    expect((await api(broker.url, 'DELETE', '/v1/subscriptions/rounds')).status).toBe(204)
    expect((await api(broker.url, 'GET', '/v1/subscriptions/rounds')).status).toBe(404)
  })
  it('takes a partition over exactly: acked out of order is not delivered again, un-acked is, then it reads on', async () => {
    await createTopic(broker.url, 'exact.log')
    expect(
      (
        await api(broker.url, 'POST', '/v1/subscriptions', {
          name: 'exact',
          topic: 'exact.log',
          mode: 'stream',
          from: 'earliest',
          // long enough for m1's acks on a loaded machine
          sessionTimeoutMs: 3000,
        })
      ).status,
    ).toBe(201)
    const post = (from: number, n: number) =>
      api(broker.url, 'POST', '/v1/topics/exact.log/events', {
        events: Array.from({ length: n }, (_, i) => ({ data: { i: from + i } })),
      })
    await post(0, 100)
    const take = async (member: string) => {
      const res = await api(broker.url, 'POST', '/v1/subscriptions/exact/pull', {
        member,
        max: 500,
        waitMs: 0,
      })
      expect(res.status).toBe(200)
      return res.body.deliveries as Array<{ token: string; deliveries: number; event: any }>
    }
    const first = await take('m1')
    expect(first).toHaveLength(100)
    // m1 acks all but every tenth, newest first and in small batches, then goes silent
    const toAck = first.filter((d) => d.event.data.i % 10 !== 0).reverse()
    for (let i = 0; i < toAck.length; i += 7) {
      const res = await api(broker.url, 'POST', '/v1/subscriptions/exact/ack', {
        tokens: toAck.slice(i, i + 7).map((d) => d.token),
      })
      expect(res.status).toBe(200)
    }
    const report = await api(broker.url, 'GET', '/v1/subscriptions/exact')
    // the floor stays below the oldest un-acked event
    expect(report.body.partitions[0].position).toBe(0)
    await sleep(3500)
    // m2 takes the partition over: exactly the ten nobody acked, in order, then nothing
    const again = await take('m2')
    expect(again.map((d) => d.event.data.i)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
    expect(again.every((d) => d.deliveries === 2)).toBe(true)
    expect(await take('m2')).toEqual([])
    await post(100, 5)
    const fresh = await take('m2')
    expect(fresh.map((d) => d.event.data.i)).toEqual([100, 101, 102, 103, 104])
    const res = await api(broker.url, 'POST', '/v1/subscriptions/exact/ack', {
      tokens: [...again, ...fresh].map((d) => d.token),
    })
    expect(res.status).toBe(200)
    const done = await api(broker.url, 'GET', '/v1/subscriptions/exact')
    expect(done.body.lag).toBe(0)
    expect(done.body.partitions[0].position).toBe(105)
  })
})
