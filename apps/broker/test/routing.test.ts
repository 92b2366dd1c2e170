import { createClient, type QuestlogClient, type Receipt, type Status } from '@questlog/sdk-node'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ADMIN,
  type BrokerProcess,
  brokerProcesses,
  CLUSTER_ADMIN_KEY,
  FAST_CLUSTER,
  waitFor,
} from './broker-processes'
import { api, createTopic, readAll, sleep } from './helpers'

const procs = brokerProcesses()
const clients: QuestlogClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})))
})

function client(brokers: BrokerProcess[], o: Parameters<typeof createClient>[0]['routing'] = {}) {
  const c = createClient({
    brokers: brokers.map((b) => b.url),
    token: CLUSTER_ADMIN_KEY,
    backoff: { initialMs: 100, maxMs: 1000 },
    routing: o,
  })
  clients.push(c)
  return c
}

type Open = Extract<Status, { state: 'open' }>

/** The client's status once it is open on `broker`. */
async function onBroker(c: QuestlogClient, broker: BrokerProcess, ms = 30_000): Promise<Open> {
  try {
    return await waitFor(`on broker ${broker.port}`, ms, async () => {
      const s = c.currentStatus()
      return s.state === 'open' && s.broker === broker.id ? s : undefined
    })
  } catch (e) {
    // where it is instead, and what it knows of the brokers
    const known = c.liveBrokers().map((y) => ({ url: y.url, id: y.id, health: y.health }))
    throw new Error(
      `${(e as Error).message}; status ${JSON.stringify(c.currentStatus())}; knows ${JSON.stringify(known)}`,
    )
  }
}

/** A host's own load stays under this in a test run, even on a busy machine (the knob adds hundreds). */
const HOST_LOAD = 150

/**
 * Adds `load` to what broker `b` reports (QUESTLOG_TEST_KNOBS=on), and waits until the registry
 * and every client in `seers` see the figure.
 */
async function inflate(b: BrokerProcess, load: number, seers: QuestlogClient[] = []): Promise<void> {
  const res = await api(b.url, 'PUT', '/v1/broker/health-offset', { load }, ADMIN)
  expect(res.status).toBe(200)
  const shows = (l: number | undefined) => l !== undefined && (load === 0 ? l < HOST_LOAD : l >= load)
  await waitFor(`load of ${b.port} in the registry`, 10_000, async () => {
    const r = await api(b.url, 'GET', '/v1/brokers', undefined, ADMIN)
    return shows(r.body.brokers.find((y: { id: string }) => y.id === b.id)?.health.load) ? true : undefined
  })
  for (const c of seers) {
    await waitFor(`load of ${b.port} seen by a client`, 10_000, async () =>
      shows(c.liveBrokers().find((y) => y.id === b.id)?.health.load) ? true : undefined,
    )
  }
}

// scores are 5 points a unit of load: thresholds far above what a busy shared host reports (load 40 = 200)
const ROUTING = { leaveAbove: 3000, healthyBelow: 1500, minStayMs: 1000 }

describe('health-aware routing in the SDK: three broker processes, one database', () => {
  it('connects to the healthiest, is sticky below the threshold, moves past it, and leaves a draining broker', async () => {
    const { brokers } = await procs.cluster(3, { QUESTLOG_TEST_KNOBS: 'on' })
    const [a, b, c] = brokers as [BrokerProcess, BrokerProcess, BrokerProcess]
    // a worst, c in between, b the healthiest
    await inflate(a, 1000)
    await inflate(c, 200)
    // GET /v1/brokers reads the database; a welcome carries the live set as of its broker's last
    // heartbeat: five more heartbeats, so a's welcome has these figures (else c may look as good as b)
    await sleep(5 * Number(FAST_CLUSTER.QUESTLOG_HEARTBEAT_MS))

    // given a first, the client learns the figures from a's welcome and moves to b
    const first = client([a, b, c], ROUTING)
    const placed = await onBroker(first, b)
    expect(placed.route).toEqual({ why: 'healthiest', from: a.id })
    // a client that starts later is placed the same way
    const sticky = client([c, a, b], ROUTING)
    await onBroker(sticky, b)

    // b gets worse than c but stays under the threshold: both clients stay on it
    await inflate(b, 300, [first, sticky])
    await sleep(2000)
    expect(first.currentStatus()).toMatchObject({ state: 'open', broker: b.id })
    expect(sticky.currentStatus()).toMatchObject({ state: 'open', broker: b.id })

    // past the threshold, with c made healthy again: both move to c
    await inflate(c, 0)
    await inflate(b, 1000)
    for (const x of [first, sticky]) {
      const moved = await onBroker(x, c)
      expect(moved.route).toEqual({ why: 'degraded', from: b.id })
    }
    // and a new client goes to c straight away
    const late = client([b, a, c], ROUTING)
    await onBroker(late, c)

    // b recovers; then an operator drains c before a deploy: everyone on it moves at once, to b
    await inflate(b, 0, [first, sticky, late])
    const drained = await api(c.url, 'PUT', '/v1/broker/drain', { draining: true }, ADMIN)
    expect(drained.body).toEqual({ brokerId: c.id, draining: true })
    for (const x of [first, sticky, late]) {
      const moved = await onBroker(x, b, 10_000)
      expect(moved.route).toEqual({ why: 'draining', from: c.id })
    }
    expect((await api(c.url, 'GET', '/health/ready')).status).toBe(503)
    expect((await api(c.url, 'GET', '/health')).body.draining).toBe(true)
    const listed = await api(a.url, 'GET', '/v1/brokers', undefined, ADMIN)
    expect(listed.body.brokers.find((y: { id: string }) => y.id === c.id).health.draining).toBe(true)
    // a client given only the drained broker is still served there (nothing is refused)
    await createTopic(a.url, 'routing.drained', {}, ADMIN)
    const only = client([c], { ...ROUTING, discover: false })
    await onBroker(only, c)
    expect(await only.publish('routing.drained', { n: 1 })).toMatchObject({ offset: '0' })
    expect(only.currentStatus()).toMatchObject({ state: 'open', broker: c.id })

    // the knobs are for administrators, and checked
    const game = await api(
      a.url,
      'POST',
      '/v1/keys',
      { name: 'game', rules: [{ effect: 'allow', actions: ['publish'], topics: ['>'] }] },
      ADMIN,
    )
    const gameAuth = { authorization: `Bearer ${game.body.key}` }
    expect((await api(a.url, 'PUT', '/v1/broker/drain', { draining: true }, gameAuth)).status).toBe(403)
    const bad = await api(a.url, 'PUT', '/v1/broker/drain', { draining: 'yes' }, ADMIN)
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.issues).toMatchObject([{ path: 'draining' }])
  }, 240_000)

  it('a broker the test knob is off on has no knob', async () => {
    const { brokers } = await procs.cluster(1)
    const res = await api(brokers[0]!.url, 'PUT', '/v1/broker/health-offset', { load: 5 }, ADMIN)
    expect(res.status).toBe(404)
  })

  it('kill -9 of the broker the clients are on: they move within 2 s, subscriptions go on without gaps, nothing acked is lost or stored twice', async () => {
    const { brokers } = await procs.cluster(3)
    const [a, b] = brokers as [BrokerProcess, BrokerProcess, BrokerProcess]
    const topic = 'routing.kill'
    const partitions = 4
    await createTopic(a.url, topic, { partitions }, ADMIN)

    // publisher and subscribers all on a (the first given; a wide spread keeps them there)
    const stay = { spread: 1e6 }
    const publisher = client(brokers, stay)
    const reader = client(brokers, stay)
    const quiet = client(brokers, stay)
    // publishes to b only, while a is frozen
    const outsider = client([b], { discover: false })
    for (const x of [publisher, reader, quiet]) await onBroker(x, a)

    const take = (
      from: 'earliest' | 'latest',
      sink: Array<{ partition: number; offset: number; n: number }>,
    ) => {
      const sub = reader.subscribe(topic, { from })
      const done = (async () => {
        for await (const ev of sub)
          sink.push({ partition: ev.partition, offset: Number(ev.offset), n: (ev.data as { n: number }).n })
      })()
      return { sub, done }
    }
    const all: Array<{ partition: number; offset: number; n: number }> = []
    const main = take('earliest', all)
    // a subscription from `latest` that has received nothing when its broker dies: its type comes later
    const lateEvents: Array<{ partition: number; offset: number; n: number }> = []
    const lateSub = quiet.subscribe(topic, { from: 'latest', type: 'routing.outside' })
    const lateDone = (async () => {
      for await (const ev of lateSub)
        lateEvents.push({
          partition: ev.partition,
          offset: Number(ev.offset),
          n: (ev.data as { n: number }).n,
        })
    })()
    await waitFor('subscribed', 5000, async () =>
      Object.keys(lateSub.positions).length === partitions ? true : undefined,
    )

    // a steady stream of publishes, each with a unique n
    const TOTAL = 3000
    const receipts: Array<Promise<Receipt>> = []
    let n = 0
    const pumping = (async () => {
      while (n < TOTAL) {
        for (let i = 0; i < 20 && n < TOTAL; i++, n++)
          receipts.push(publisher.publish(topic, { n }, { key: `k${n % 16}` }))
        await sleep(5)
      }
    })()
    await waitFor('some events read', 20_000, async () => (all.length >= 500 ? true : undefined))

    // freeze a: publishes in flight on it stay unanswered; b takes events no subscriber on a can see
    const moves: Record<string, number> = {}
    const watch = (name: string, c: QuestlogClient) =>
      (async () => {
        for await (const s of c.status()) {
          if (s.state === 'open' && s.broker !== a.id && moves[name] === undefined) moves[name] = Date.now()
          if (s.state === 'closed') return
        }
      })()
    void watch('publisher', publisher)
    void watch('reader', reader)
    void watch('quiet', quiet)
    a.pause()
    const OUTSIDE = 100
    await Promise.all(
      Array.from({ length: OUTSIDE }, (_, i) =>
        outsider.publish(topic, { n: TOTAL + i }, { key: `o${i}`, type: 'routing.outside' }),
      ),
    )
    const killedAt = Date.now()
    await a.kill()

    for (const name of ['publisher', 'reader', 'quiet']) {
      await waitFor(`${name} moved`, 10_000, async () => (moves[name] !== undefined ? true : undefined))
      expect(moves[name]! - killedAt, `${name} moved after`).toBeLessThan(2000)
    }
    // calls over HTTP follow the client to its new broker, though a was the first given
    const scheduled = await publisher.publish(topic, { n: -1 }, { delayMs: 3_600_000 })
    expect(scheduled.topic).toBe(topic)
    await publisher.cancelScheduled(scheduled.id)
    await pumping
    const acked = await Promise.all(receipts)
    const expected = TOTAL + OUTSIDE
    await waitFor('every event read', 30_000, async () =>
      new Set(all.map((e) => e.n)).size === expected ? true : undefined,
    )
    await waitFor('the late subscription read what b took', 30_000, async () =>
      lateEvents.length >= OUTSIDE ? true : undefined,
    )

    // the log holds every n once, and each acked receipt points at its own event
    const log = new Map<string, number>()
    const count = new Map<number, number>()
    for (let p = 0; p < partitions; p++) {
      const events = await readAll(b.url, topic, p, 0, ADMIN)
      events.forEach((e, i) => {
        expect(Number(e.offset)).toBe(i)
        log.set(`${p}:${e.offset}`, e.data.n)
        count.set(e.data.n, (count.get(e.data.n) ?? 0) + 1)
      })
    }
    expect(count.size).toBe(expected)
    expect([...count.values()].every((x) => x === 1)).toBe(true)
    acked.forEach((r, i) => {
      expect(log.get(`${r.partition}:${r.offset}`)).toBe(i)
    })

    // the subscriptions saw no gap: per partition, offsets from where each began, none skipped
    const gapless = (events: Array<{ partition: number; offset: number }>) => {
      for (let p = 0; p < partitions; p++) {
        const offsets = [...new Set(events.filter((e) => e.partition === p).map((e) => e.offset))].sort(
          (x, y) => x - y,
        )
        for (let i = 1; i < offsets.length; i++)
          expect(offsets[i]! - offsets[i - 1]!, `partition ${p}`).toBe(1)
      }
    }
    gapless(all)
    expect(lateEvents.map((e) => e.n).sort((x, y) => x - y)).toEqual(
      Array.from({ length: OUTSIDE }, (_, i) => TOTAL + i),
    )
    expect(Math.min(...all.map((e) => e.offset))).toBe(0)

    main.sub.close()
    lateSub.close()
    await main.done
    await lateDone
  }, 240_000)
})
