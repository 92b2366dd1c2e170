import { createClient, type QuestlogClient, type ReceivedEvent } from '@questlog/sdk-node'
import { afterEach, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { brokerProcesses, waitFor } from './broker-processes'
import { api, createTopic, sleep, startBroker } from './helpers'

// A key-ordered queue: 8 members (SDK clients) with random processing times and naks, one of
// them crashing (its client, or its broker), must never run two events of a key at once nor one
// out of order, and must process every event at least once.

const KEYS = 1000
const PER_KEY = 2
const MEMBERS = 8
const ACK_WAIT_MS = 2000

interface Run {
  key: string
  seq: number
  start: number
  end: number
  /** How the processing ended: acked (confirmed), ack refused or lost, nak-ed, or cut by a crash. */
  outcome: 'ack' | 'ack-failed' | 'nak' | 'crashed'
}

const clients: QuestlogClient[] = []
const brokers: Broker[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})))
  await Promise.all(brokers.splice(0).map((b) => b.stop()))
  if (lastFigures) console.log(`key order: ${lastFigures}`)
  lastFigures = ''
})

function client(urls: string[]): QuestlogClient {
  const c = createClient({
    brokers: urls,
    connectTimeoutMs: 5000,
    backoff: { initialMs: 50, maxMs: 300 },
    routing: { discover: false },
  })
  clients.push(c)
  return c
}

/** One member: processes one event at a time for 0–4 ms, naks a tenth of first deliveries. */
function member(bus: QuestlogClient, runs: Run[]) {
  let crash: () => void = () => {}
  const crashed = new Promise<void>((resolve) => {
    crash = resolve
  })
  let dead = false
  let started: () => void = () => {}
  const sub = bus.subscribe<{ seq: number }>('orders', {
    subscription: 'workers',
    ordering: 'key',
    credits: 2,
  })
  const done = (async () => {
    for await (const ev of sub as AsyncIterable<ReceivedEvent<{ seq: number }>>) {
      if (dead) break
      const run: Run = { key: ev.key!, seq: ev.data.seq, start: performance.now(), end: 0, outcome: 'ack' }
      runs.push(run)
      started()
      await Promise.race([sleep(Math.random() * 4), crashed])
      run.end = performance.now()
      if (dead) {
        run.outcome = 'crashed'
        break
      }
      if (ev.redelivery === 0 && Math.random() < 0.1) {
        run.outcome = 'nak'
        ev.nak(Math.floor(Math.random() * 30))
        continue
      }
      await ev.ack().catch(() => {
        run.outcome = 'ack-failed'
      })
    }
  })().catch(() => {})
  return {
    done,
    /** Stops in the middle of an event, as a killed process would; its client goes without a goodbye. */
    crash: async (c: QuestlogClient) => {
      await new Promise<void>((resolve) => {
        started = resolve
      })
      dead = true
      crash()
      await c.close().catch(() => {})
    },
  }
}

/** Every event of keys `from` to `to` (exclusive). */
async function publishKeys(url: string, from: number, to: number): Promise<void> {
  // a key's events one after the other: a queue without key order would run them side by side
  const events = Array.from({ length: to - from }, (_, k) =>
    Array.from({ length: PER_KEY }, (_, seq) => ({ key: `k${from + k}`, data: { seq } })),
  ).flat()
  for (let i = 0; i < events.length; i += 500) {
    const res = await api(url, 'POST', '/v1/topics/orders/events', { events: events.slice(i, i + 500) })
    expect(res.status).toBe(201)
  }
}

async function createWorkers(url: string): Promise<void> {
  await createTopic(url, 'orders', { partitions: 4 })
  const res = await api(url, 'POST', '/v1/subscriptions', {
    name: 'workers',
    topic: 'orders',
    mode: 'queue',
    ordering: 'key',
    from: 'earliest',
    ackWaitMs: ACK_WAIT_MS,
    maxDeliveries: 100,
    backoffMs: [20],
  })
  expect(res.status).toBe(201)
  expect(res.body.ordering).toBe('key')
}

let lastFigures = ''
/** Events processed to the end and acked, as far as the member knows (an ack lost with its broker may have landed). */
function acked(runs: Run[]): number {
  const done = new Set(
    runs.filter((r) => r.outcome === 'ack' || r.outcome === 'ack-failed').map((r) => `${r.key}/${r.seq}`),
  )
  return done.size
}

/** Every event processed to its ack, and the broker holding nothing more to deliver. */
async function finished(url: string, runs: Run[]): Promise<void> {
  await waitFor('every event processed and nothing pending', 60_000, async () => {
    if (acked(runs) < KEYS * PER_KEY) return undefined
    const report = await api(url, 'GET', '/v1/subscriptions/workers')
    return report.body.pending === 0 && report.body.lag === 0 ? true : undefined
  }).catch(async (e) => {
    const report = await api(url, 'GET', '/v1/subscriptions/workers')
    throw new Error(
      `${e.message}: ${acked(runs)} processed, ${report.body.pending} pending, lag ${report.body.lag}`,
    )
  })
}

function checkRuns(runs: Run[]): void {
  const count = (o: Run['outcome']) => runs.filter((r) => r.outcome === o).length
  lastFigures = `${runs.length} runs, ${count('nak')} naks, ${count('crashed')} crashed, ${count('ack-failed')} acks failed`
  const byKey = new Map<string, Run[]>()
  for (const r of runs) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r])
  const problems: string[] = []
  for (const [key, list] of byKey) {
    list.sort((a, b) => a.start - b.start)
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!
      const cur = list[i]!
      if (cur.start < prev.end)
        problems.push(`${key}: seq ${cur.seq} started while seq ${prev.seq} was still running`)
      // after a confirmed ack the key's next event; after a nak or a crash the same one again
      const allowed =
        prev.outcome === 'ack'
          ? [prev.seq + 1]
          : prev.outcome === 'ack-failed'
            ? [prev.seq, prev.seq + 1]
            : [prev.seq]
      if (!allowed.includes(cur.seq))
        problems.push(`${key}: seq ${cur.seq} after seq ${prev.seq} (${prev.outcome})`)
    }
    if (list[0]!.seq !== 0) problems.push(`${key}: began with seq ${list[0]!.seq}`)
  }
  expect(problems.slice(0, 10)).toEqual([])
  for (let k = 0; k < KEYS; k++)
    for (let seq = 0; seq < PER_KEY; seq++)
      if (
        !runs.some(
          (r) => r.key === `k${k}` && r.seq === seq && (r.outcome === 'ack' || r.outcome === 'ack-failed'),
        )
      )
        problems.push(`k${k}: seq ${seq} never processed to its ack`)
  expect(problems.slice(0, 10)).toEqual([])
}

describe('key-ordered queue subscriptions', () => {
  it('runs each key one event at a time, in order, over 8 members, one of them crashing', async () => {
    const broker = await startBroker()
    brokers.push(broker)
    await createWorkers(broker.url)
    await publishKeys(broker.url, 0, KEYS / 2)
    const runs: Run[] = []
    const members = Array.from({ length: MEMBERS }, () => {
      const bus = client([broker.url])
      return { bus, m: member(bus, runs) }
    })
    // more arrive while the members work
    await publishKeys(broker.url, KEYS / 2, KEYS)
    await waitFor('a third of the events acked', 60_000, async () =>
      acked(runs) >= (KEYS * PER_KEY) / 3 ? true : undefined,
    )
    await members[3]!.m.crash(members[3]!.bus)
    await finished(broker.url, runs)
    expect(runs.some((r) => r.outcome === 'nak')).toBe(true)
    expect(runs.filter((r) => r.outcome === 'crashed')).toHaveLength(1)
    checkRuns(runs)
    // different keys did run in parallel: the work did not go through one member at a time
    const overlapping = runs.filter((r, i) => i > 0 && r.start < runs[i - 1]!.end).length
    expect(overlapping).toBeGreaterThan(0)
  }, 90_000)

  it('refuses key ordering on a stream subscription, and a consumer expecting another ordering', async () => {
    const broker = await startBroker()
    brokers.push(broker)
    await createTopic(broker.url, 'orders', { partitions: 1 })
    const bad = await api(broker.url, 'POST', '/v1/subscriptions', {
      name: 'grp',
      topic: 'orders',
      mode: 'stream',
      ordering: 'key',
    })
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.issues[0].path).toBe('ordering')
    await api(broker.url, 'POST', '/v1/subscriptions', { name: 'plain', topic: 'orders', mode: 'queue' })
    const sub = client([broker.url]).subscribe('orders', { subscription: 'plain', ordering: 'key' })
    await expect(
      (async () => {
        for await (const _ of sub) return
      })(),
    ).rejects.toMatchObject({ code: 'conflict' })
  })
})

describe('key-ordered queue subscriptions over two broker processes', () => {
  const procs = brokerProcesses()

  it('keeps each key in order and one at a time when a broker is killed -9 mid-run', async () => {
    const { brokers: pair } = await procs.cluster(2, { QUESTLOG_AUTH: 'off' })
    const [a, b] = pair as [(typeof pair)[0], (typeof pair)[0]]
    await createWorkers(a.url)
    await publishKeys(a.url, 0, KEYS)
    const runs: Run[] = []
    // half the members on each broker; those on b move to a when b dies, holding what they had
    const members = Array.from({ length: MEMBERS }, (_, i) =>
      member(client(i % 2 === 0 ? [a.url] : [b.url, a.url]), runs),
    )
    await waitFor('a third of the events acked', 60_000, async () =>
      acked(runs) >= (KEYS * PER_KEY) / 3 ? true : undefined,
    )
    await b.kill()
    await finished(a.url, runs)
    checkRuns(runs)
    expect(members).toHaveLength(MEMBERS)
  }, 120_000)
})
