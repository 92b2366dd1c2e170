import { BRIDGE_HEADER, bridge, createClient, createLocalBus } from '@questlog/sdk-node'
import { afterEach, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { freePort } from '../src/storage/embedded'
import { ADMIN, type BrokerProcess, brokerProcesses, CLUSTER_ADMIN_KEY } from './broker-processes'
import { api, createTopic, freshDatabase, readAll, sleep, startBroker, waitFor } from './helpers'

const FAST = { backoff: { initialMs: 20, maxMs: 200 } }
const procs = brokerProcesses()

/** Every n once, and per key in rising order. */
function expectOncePerKeyInOrder(events: Array<{ key: string | null; n: number }>, total: number) {
  expect(events.map((e) => e.n).sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, n) => n))
  const byKey = new Map<string, number[]>()
  for (const e of events) byKey.set(e.key ?? '', [...(byKey.get(e.key ?? '') ?? []), e.n])
  for (const ns of byKey.values()) expect(ns).toEqual([...ns].sort((a, b) => a - b))
}

describe('the local bus bridged to a broker', () => {
  let broker: Broker | undefined
  const closers: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c()
    await broker?.stop()
    broker = undefined
  })

  async function restartable() {
    const databaseUrl = await freshDatabase()
    const port = await freePort()
    broker = await startBroker({ databaseUrl, port })
    return {
      url: broker.url,
      async restart() {
        await broker!.stop()
        broker = await startBroker({ databaseUrl, port })
      },
    }
  }

  it('forwards the chosen local topics to the broker, each event once across a broker restart', async () => {
    const b = await restartable()
    await createTopic(b.url, 'arena.hits', { partitions: 2 })
    const bus = createLocalBus()
    const client = createClient({ brokers: [b.url], ...FAST })
    const link = bridge(bus, client, { toBroker: ['arena.hits'], name: 'match-1' })
    closers.push(
      () => client.close(),
      () => link.close(),
      () => bus.close(),
    )
    const TOTAL = 300
    let restarting: Promise<void> | undefined
    for (let n = 0; n < TOTAL; n++) {
      bus.emit('arena.hits', { n }, { key: `p${n % 5}`, type: 'arena.hit' })
      // not bridged: must not reach the broker (the topic does not even exist there)
      if (n % 50 === 0) bus.emit('arena.local', { n })
      if (n % 10 === 9) await sleep(2)
      // the broker goes down with batches in flight and comes back while the game keeps publishing
      if (n === 120) restarting = b.restart()
    }
    await restarting
    await link.flush()
    expect(link.stats()).toMatchObject({ sent: TOTAL, sendFailed: 0, sending: 0 })

    const stored = [
      ...(await readAll(broker!.url, 'arena.hits', 0)),
      ...(await readAll(broker!.url, 'arena.hits', 1)),
    ]
    expect(stored).toHaveLength(TOTAL)
    expectOncePerKeyInOrder(
      stored.map((e) => ({ key: e.key, n: e.data.n })),
      TOTAL,
    )
    expect(stored.every((e) => e.type === 'arena.hit' && e.headers[BRIDGE_HEADER] === 'match-1')).toBe(true)
    expect((await api(broker!.url, 'GET', '/v1/topics/arena.local')).status).toBe(404)
  })

  it('forwards local events once each when the broker they went to is killed amid the flow', async () => {
    const { brokers } = await procs.cluster(2)
    const [first, second] = brokers as [BrokerProcess, BrokerProcess]
    await createTopic(first.url, 'arena.kills', { partitions: 2 }, ADMIN)
    const bus = createLocalBus()
    const client = createClient({
      brokers: [first.url, second.url],
      token: CLUSTER_ADMIN_KEY,
      pingIntervalMs: 200,
      ...FAST,
    })
    const link = bridge(bus, client, { toBroker: ['arena.kills'], name: 'match-2' })
    closers.push(
      () => client.close(),
      () => link.close(),
      () => bus.close(),
    )
    const TOTAL = 400
    let killing: Promise<void> | undefined
    for (let n = 0; n < TOTAL; n++) {
      bus.emit('arena.kills', { n }, { key: `p${n % 7}` })
      // the first hundred are stored on the first broker before the fault
      if (n === 99) await link.flush()
      if (n > 99 && n % 5 === 4) await sleep(1)
      // SIGKILL amid the flow: batches it had taken may be stored with their receipts lost; the client sends them again
      if (n === 200) killing = first.kill()
    }
    await killing
    await link.flush()
    // the fault was met: a batch went again
    expect(client.stats().retries).toBeGreaterThan(0)
    expect(link.stats()).toMatchObject({ sent: TOTAL, sendFailed: 0 })
    const stored = [
      ...(await readAll(second.url, 'arena.kills', 0, 0, ADMIN)),
      ...(await readAll(second.url, 'arena.kills', 1, 0, ADMIN)),
    ]
    expectOncePerKeyInOrder(
      stored.map((e) => ({ key: e.key, n: e.data.n })),
      TOTAL,
    )
  })

  it('publishes a broker topic on the local bus, each event once when its broker stalls and dies, and resumes by its group', async () => {
    // two brokers on one database; the bridge's client is on the first, which stalls (SIGSTOP) with acks unstored, then dies
    const { brokers } = await procs.cluster(2)
    const [first, second] = brokers as [BrokerProcess, BrokerProcess]
    await createTopic(first.url, 'arena.results', { partitions: 2 }, ADMIN)
    const publish = async (url: string, from: number, count: number) => {
      const events = Array.from({ length: count }, (_, i) => ({
        key: `m${(from + i) % 3}`,
        data: { n: from + i },
      }))
      const r = await api(url, 'POST', '/v1/topics/arena.results/events', { events }, ADMIN)
      expect(r.status).toBe(201)
    }
    await publish(first.url, 0, 200)

    const bus = createLocalBus({ subscriberCapacity: 8 })
    const got: Array<{ key: string | null; n: number }> = []
    // the local reader stops at 80 until let go: the bridge then holds events the broker sent ahead
    let letGo!: () => void
    const gate = new Promise<void>((resolve) => {
      letGo = resolve
    })
    const reader = (async () => {
      for await (const ev of bus.subscribe<{ n: number }>('arena.results')) {
        got.push({ key: ev.key, n: ev.data.n })
        if (got.length === 80) await gate
        if (got.length % 20 === 0) await sleep(5)
      }
    })()
    const client = createClient({
      brokers: [first.url, second.url],
      token: CLUSTER_ADMIN_KEY,
      pingIntervalMs: 200,
      ...FAST,
    })
    const link = bridge(bus, client, {
      fromBroker: [{ topic: 'arena.results', from: 'earliest' }],
      name: 'results-reader',
    })
    closers.push(() => client.close())
    await waitFor(
      async () => got.length,
      (n) => n >= 80,
    )
    // the local bus is full behind the gated reader; the broker sends the rest of the 200 ahead (credits
    // 1000) into the client's queue, where nothing acks them until the reader goes on
    await waitFor(
      async () => link.stats().received,
      (n) => n >= 80 + 8,
    )
    await sleep(1000)
    // the events it sent ahead are handed on and acked while it is stalled, so it stores none of those
    // acks: the client gives up on it and the second broker delivers them again from the group's position
    first.pause()
    letGo()
    await sleep(1000)
    // then it dies: its database sessions (and what they hold) go with it
    await first.kill()
    await publish(second.url, 200, 100)
    await waitFor(
      async () => got.length,
      (n) => n >= 300,
      30_000,
    )
    await sleep(500) // room for a duplicate to show up
    expect(got).toHaveLength(300)
    expectOncePerKeyInOrder(got, 300)
    const stats = link.stats()
    expect(stats.received).toBe(300)
    // the events whose acks the stalled broker had not stored came again, and were not published twice
    expect(stats.duplicates).toBeGreaterThan(0)
    // acks are stored asynchronously: let the last ones land before the bridge goes
    await sleep(300)
    await link.close()
    await bus.close()
    await reader

    // a new bridge of the same name (the game server restarted) resumes after what the first handed on
    const again = createLocalBus()
    const later: number[] = []
    again.subscribe<{ n: number }>('arena.results', { onEvent: (e) => later.push(e.data.n) })
    const client2 = createClient({ brokers: [second.url], token: CLUSTER_ADMIN_KEY, ...FAST })
    const link2 = bridge(again, client2, { fromBroker: ['arena.results'], name: 'results-reader' })
    closers.push(
      () => client2.close(),
      () => link2.close(),
    )
    await sleep(300)
    await publish(second.url, 300, 5)
    await waitFor(
      async () => later.length,
      (n) => n >= 5,
    )
    await sleep(200)
    expect(later.sort((x, y) => x - y)).toEqual([300, 301, 302, 303, 304])
  })

  it('bridges a topic both ways without echoing its own events back', async () => {
    const b = await restartable()
    await createTopic(b.url, 'arena.chat')
    const bus = createLocalBus()
    const got: string[] = []
    bus.subscribe<{ text: string }>('arena.chat', { onEvent: (e) => got.push(e.data.text) })
    const client = createClient({ brokers: [b.url], ...FAST })
    const link = bridge(bus, client, { toBroker: ['arena.chat'], fromBroker: ['arena.chat'], name: 'chat' })
    closers.push(
      () => client.close(),
      () => link.close(),
    )
    // the broker subscription is placed before anything is published
    await waitFor(
      async () => (await api(b.url, 'GET', '/v1/topics/arena.chat')).status,
      (s) => s === 200,
    )
    await sleep(300)
    for (let i = 0; i < 10; i++) bus.emit('arena.chat', { text: `local-${i}` })
    const other = createClient({ brokers: [b.url], ...FAST })
    closers.push(() => other.close())
    for (let i = 0; i < 5; i++) await other.publish('arena.chat', { text: `remote-${i}` })
    await link.flush()
    await waitFor(
      async () => got.length,
      (n) => n >= 15,
    )
    await sleep(300)
    expect(got.filter((t) => t.startsWith('local-'))).toEqual(
      Array.from({ length: 10 }, (_, i) => `local-${i}`),
    )
    expect(got.filter((t) => t.startsWith('remote-'))).toEqual(
      Array.from({ length: 5 }, (_, i) => `remote-${i}`),
    )
    // skipped: the 10 coming back from the broker, and the 5 from it not sent back
    expect(link.stats()).toMatchObject({ sent: 10, received: 5, echoes: 15 })
    expect(await readAll(b.url, 'arena.chat', 0)).toHaveLength(15)
  })
})
