import { createClient, isQuestlogError, type ReceivedEvent } from '@questlog/sdk-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, brokerWithClients, createTopic, sleep, startBroker } from './helpers'

describe('named subscriptions over the WebSocket', () => {
  const setup = brokerWithClients()
  const client = () => setup.client()
  const createSubscription = async (body: Record<string, unknown>) => {
    const res = await api(setup.broker.url, 'POST', '/v1/subscriptions', body)
    expect(res.status).toBe(201)
  }
  const publish = async (topic: string, events: Array<{ key?: string; data: unknown }>) => {
    const res = await api(setup.broker.url, 'POST', `/v1/topics/${topic}/events`, { events })
    expect(res.status).toBe(201)
    return res.body.receipts as Array<{ partition: number }>
  }

  it('queue mode: a nak is redelivered, an ack settles, a term dead-letters', async () => {
    await createTopic(setup.broker.url, 'wsq.jobs', { partitions: 2 })
    await createSubscription({
      name: 'wsq-workers',
      topic: 'wsq.jobs',
      mode: 'queue',
      from: 'earliest',
      maxDeliveries: 5,
      backoffMs: [100],
    })
    await publish('wsq.jobs', [
      { key: 'a', data: 'fine' },
      { key: 'b', data: 'flaky' },
      { key: 'c', data: 'poison' },
    ])
    const seen: Array<[unknown, number]> = []
    const done = new Set<string>()
    for await (const ev of client().subscribe<string>('wsq.jobs', { subscription: 'wsq-workers' })) {
      seen.push([ev.data, ev.redelivery])
      if (ev.data === 'flaky' && ev.redelivery === 0) ev.nak(0)
      else if (ev.data === 'poison') await ev.term('cannot parse')
      else await ev.ack()
      if (ev.data !== 'flaky' || ev.redelivery > 0) done.add(ev.data)
      if (done.size === 3) break
    }
    expect(seen.filter(([d]) => d === 'flaky')).toEqual([
      ['flaky', 0],
      ['flaky', 1],
    ])
    expect(
      seen
        .filter(([d]) => d !== 'flaky')
        .map(([d]) => d)
        .sort(),
    ).toEqual(['fine', 'poison'])
    const report = await setup.broker.services.delivery.report('wsq-workers')
    expect(report.pending).toBe(0)
    expect(report.deadLetters).toBe(1)
    const dead = await api(setup.broker.url, 'GET', '/v1/subscriptions/wsq-workers/dead-letters')
    expect(dead.body.deadLetters).toHaveLength(1)
    expect(dead.body.deadLetters[0]).toMatchObject({ reason: 'cannot parse', event: { data: 'poison' } })
  })

  it('queue mode: an event left un-acked by a consumer that goes away is redelivered to the next', async () => {
    await createTopic(setup.broker.url, 'wsq.orphans')
    await createSubscription({ name: 'wsq-orphans', topic: 'wsq.orphans', mode: 'queue', from: 'earliest' })
    await publish('wsq.orphans', [{ data: 'job' }])
    const first = client()
    for await (const ev of first.subscribe('wsq.orphans', { subscription: 'wsq-orphans' })) {
      expect(ev.redelivery).toBe(0)
      break // no ack
    }
    await first.close()
    // the ack wait is 30 s: only a hand-back on disconnect brings it back this soon
    const t0 = Date.now()
    for await (const ev of client().subscribe('wsq.orphans', { subscription: 'wsq-orphans' })) {
      expect([ev.data, ev.redelivery]).toEqual(['job', 1])
      await ev.ack()
      break
    }
    expect(Date.now() - t0).toBeLessThan(20_000)
  })

  it('queue mode: refuses the late ack of an expired attempt, and the redelivery is acked instead', async () => {
    await createTopic(setup.broker.url, 'wsq.slow')
    await createSubscription({
      name: 'wsq-slow',
      topic: 'wsq.slow',
      mode: 'queue',
      from: 'earliest',
      ackWaitMs: 1000,
      maxDeliveries: 50,
    })
    await publish('wsq.slow', [{ data: 'job' }])
    let late: unknown
    let acked = -1
    for await (const ev of client().subscribe('wsq.slow', { subscription: 'wsq-slow' })) {
      if (ev.redelivery === 0) {
        // longer than the ack wait: the event is the broker's again
        await sleep(1500)
        late = await ev.ack().catch((e: unknown) => e)
        continue
      }
      // on a slow machine a redelivery may also have expired while it waited here: take the next
      const refused = await ev.ack().then(
        () => false,
        (e: unknown) => isQuestlogError(e) && e.code === 'attempt_expired',
      )
      if (refused) continue
      acked = ev.redelivery
      break
    }
    expect(isQuestlogError(late) && late.code).toBe('attempt_expired')
    expect(acked).toBeGreaterThan(0)
    const report = await setup.broker.services.delivery.report('wsq-slow')
    expect(report.pending).toBe(0)
  })

  it('ends the iteration with a typed error for an unknown subscription', async () => {
    let error: unknown
    try {
      for await (const _ of client().subscribe('wsq.jobs', { subscription: 'no-such-subscription' })) break
    } catch (e) {
      error = e
    }
    expect(isQuestlogError(error) && error.code).toBe('subscription_not_found')
  })

  it('stream mode: two SDK members split the partitions, and one leaving hands its share over', async () => {
    await createTopic(setup.broker.url, 'wsg.scores', { partitions: 4 })
    // a member that only went silent would keep its partitions for a minute
    await createSubscription({
      name: 'wsg-board',
      topic: 'wsg.scores',
      mode: 'stream',
      from: 'earliest',
      sessionTimeoutMs: 60_000,
    })
    const got = [new Map<number, Set<unknown>>(), new Map<number, Set<unknown>>()]
    let total = 0
    const members = [client(), client()].map((c, i) => {
      const sub = c.subscribe<number>('wsg.scores', { subscription: 'wsg-board' })
      const reading = (async () => {
        for await (const ev of sub as AsyncIterable<ReceivedEvent<number>>) {
          const byPartition = got[i]!
          if (!byPartition.has(ev.partition)) byPartition.set(ev.partition, new Set())
          byPartition.get(ev.partition)!.add(ev.data)
          total++
          await ev.ack()
        }
      })().catch((e: unknown) => e)
      return { sub, reading }
    })
    // both members are in the group, each owning two partitions, before anything is published
    for (let i = 0; ; i++) {
      const report = await setup.broker.services.delivery.report('wsg-board')
      if (report.members.length === 2 && report.members.every((m) => m.partitions.length === 2)) break
      expect(i).toBeLessThan(200)
      await sleep(50)
    }
    const receipts = await publish(
      'wsg.scores',
      Array.from({ length: 200 }, (_, n) => ({ key: `player-${n % 50}`, data: n })),
    )
    expect(new Set(receipts.map((r) => r.partition)).size).toBe(4)
    for (let i = 0; total < 200; i++) {
      expect(i).toBeLessThan(600)
      await sleep(50)
    }
    const [a, b] = got.map((m) => new Set(m.keys()))
    expect(a!.size).toBe(2)
    expect(b!.size).toBe(2)
    expect([...a!].some((p) => b!.has(p))).toBe(false)
    const all = got.flatMap((m) => [...m.values()].flatMap((s) => [...s]))
    expect(all.sort((x, y) => (x as number) - (y as number))).toEqual(
      Array.from({ length: 200 }, (_, n) => n),
    )
    expect(total).toBe(200)

    // the second member leaves: the first takes every partition, from the committed offsets
    members[1]!.sub.close()
    await members[1]!.reading
    // it said goodbye, so the group rebalances at once, well inside the session timeout
    for (let i = 0; ; i++) {
      const report = await setup.broker.services.delivery.report('wsg-board')
      if (report.members.length === 1 && report.members[0]!.partitions.length === 4) break
      expect(i).toBeLessThan(600)
      await sleep(50)
    }
    await publish(
      'wsg.scores',
      Array.from({ length: 40 }, (_, n) => ({ key: `player-${n}`, data: 1000 + n })),
    )
    const later = () => [...got[0]!.values()].flatMap((s) => [...s]).filter((d) => (d as number) >= 1000)
    for (let i = 0; later().length < 40; i++) {
      expect(i).toBeLessThan(600)
      await sleep(50)
    }
    expect(got[0]!.size).toBe(4)
    expect(total).toBe(240)
    members[0]!.sub.close()
    await members[0]!.reading
  })

  it('stream mode: a member whose acks were refused after a rebalance gets its credits back and reads on', async () => {
    await createTopic(setup.broker.url, 'wsg.starve', { partitions: 2 })
    await createSubscription({
      name: 'wsg-starve',
      topic: 'wsg.starve',
      mode: 'stream',
      from: 'earliest',
      sessionTimeoutMs: 60_000,
    })
    const members = async () => (await setup.broker.services.delivery.report('wsg-starve')).members
    const until = async (what: string, ok: (m: Awaited<ReturnType<typeof members>>) => boolean) => {
      for (let i = 0; !ok(await members()); i++) {
        if (i > 300) throw new Error(`${what}: not within 15 s`)
        await sleep(50)
      }
    }
    const toPartition = async (partition: number, data: unknown[]) => {
      const res = await api(setup.broker.url, 'POST', '/v1/topics/wsg.starve/events', {
        events: data.map((d) => ({ partition, data: d })),
      })
      expect(res.status).toBe(201)
    }
    // a holds both partitions and both its credits: two events of partition 0, not acked yet
    await toPartition(0, ['p0-a', 'p0-b'])
    const a = client().subscribe<string>('wsg.starve', { subscription: 'wsg-starve', credits: 2 })
    const reading = a[Symbol.asyncIterator]()
    const held = [(await reading.next()).value!, (await reading.next()).value!]
    expect(held.map((e) => e.data)).toEqual(['p0-a', 'p0-b'])
    await until('a joined', (m) => m.length === 1)
    const aId = (await members())[0]!.member
    // b joins; the split is by member id, so b comes again until partition 0 is the one it takes
    for (let i = 0; ; i++) {
      expect(i).toBeLessThan(30)
      const other = client()
      const b = other.subscribe('wsg.starve', { subscription: 'wsg-starve' })
      await until('b joined', (m) => m.length === 2)
      const owner = (await members()).find((m) => m.partitions.some((p) => p.partition === 0))!.member
      if (owner !== aId) break
      b.close()
      await other.close()
      await until('b left', (m) => m.length === 1)
    }
    // partition 0 is b's now: a's acks are refused
    for (const ev of held)
      await expect(ev.ack()).rejects.toSatisfy(
        (e: unknown) => isQuestlogError(e) && e.code === 'attempt_expired',
      )
    // partition 1 is still a's, and what is published there reaches it: the refused acks gave the credits back
    await toPartition(1, ['p1-a'])
    const next = await Promise.race([reading.next(), sleep(15_000).then(() => 'starved' as const)])
    expect(next).not.toBe('starved')
    expect(next !== 'starved' && [next.value?.partition, next.value?.data]).toEqual([1, 'p1-a'])
    a.close()
  })
})

const ADMIN = `ql_wssubadmin01_${'a'.repeat(43)}`

describe('named subscriptions over the WebSocket with auth on', () => {
  let broker: Broker
  beforeAll(async () => {
    broker = await startBroker({ auth: 'on', adminKey: ADMIN })
    const admin = { authorization: `Bearer ${ADMIN}` }
    expect((await api(broker.url, 'POST', '/v1/topics', { name: 'wsa.orders' }, admin)).status).toBe(201)
    const created = await api(
      broker.url,
      'POST',
      '/v1/subscriptions',
      { name: 'wsa-billing', topic: 'wsa.orders', mode: 'queue', from: 'earliest' },
      admin,
    )
    expect(created.status).toBe(201)
  })
  afterAll(async () => {
    await broker?.stop()
  })

  it('needs subscribe on the topics of the subscription, and hides it from keys with no rights there', async () => {
    const key = async (actions: Array<'publish' | 'subscribe'>, topics: string[]) =>
      (
        await broker.services.keys.create({
          name: actions.join('+'),
          rules: [{ effect: 'allow', actions, topics }],
        })
      ).key
    const outcome = async (token: string) => {
      const bus = createClient({ brokers: [broker.url], token })
      try {
        for await (const ev of bus.subscribe('wsa.orders', { subscription: 'wsa-billing' })) {
          await ev.ack()
          return 'delivered'
        }
        return 'ended'
      } catch (e) {
        return isQuestlogError(e) ? e.code : String(e)
      } finally {
        await bus.close()
      }
    }
    expect(await outcome(await key(['publish'], ['wsa.orders']))).toBe('forbidden')
    expect(await outcome(await key(['subscribe'], ['other.>']))).toBe('subscription_not_found')
    const reader = await key(['subscribe'], ['wsa.>'])
    const published = await api(
      broker.url,
      'POST',
      '/v1/topics/wsa.orders/events',
      { data: 'order-1' },
      {
        authorization: `Bearer ${ADMIN}`,
      },
    )
    expect(published.status).toBe(201)
    expect(await outcome(reader)).toBe('delivered')
    expect((await broker.services.delivery.report('wsa-billing')).pending).toBe(0)
  })
})
