import { createClient, type QuestlogClient, type ReceivedEvent } from '@questlog/sdk-node'
import postgres from 'postgres'
import { afterEach, describe, expect, it } from 'vitest'
import { brokerProcesses, waitFor } from './broker-processes'
import { api, createTopic } from './helpers'

const ENV = { QUESTLOG_AUTH: 'off' }
const PARTITIONS = 8
const SESSION_TIMEOUT_MS = 3000

const procs = brokerProcesses()
const clients: QuestlogClient[] = []
const pools: Array<ReturnType<typeof postgres>> = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})))
  await Promise.all(pools.splice(0).map((p) => p.end()))
})

// Each client keeps to its one broker (no discovery of the others): killing that broker then ends
// the member, as a crashed worker would; a client free to move would rejoin on the survivor.
function client(url: string): QuestlogClient {
  const c = createClient({
    brokers: [url],
    connectTimeoutMs: 5000,
    backoff: { initialMs: 50, maxMs: 300 },
    routing: { discover: false },
  })
  clients.push(c)
  return c
}

interface Got {
  n: number
  partition: number
  offset: string
  redelivery: number
}

/**
 * A member of group `workers`: records every event it receives; acks the ones `shouldAck` picks,
 * and only an ack the broker confirmed counts as acked.
 */
function member(bus: QuestlogClient) {
  const got: Got[] = []
  const acked = new Set<number>()
  const acking = new Set<Promise<void>>()
  let shouldAck: (n: number) => boolean = () => true
  const sub = bus.subscribe<{ n: number }>('grp.events', {
    group: 'workers',
    from: 'earliest',
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    credits: 100,
  })
  const done = (async () => {
    for await (const ev of sub as AsyncIterable<ReceivedEvent<{ n: number }>>) {
      got.push({ n: ev.data.n, partition: ev.partition, offset: ev.offset, redelivery: ev.redelivery })
      if (!shouldAck(ev.data.n)) continue
      const p = ev.ack().then(
        () => {
          acked.add(ev.data.n)
        },
        () => {},
      )
      acking.add(p)
      void p.finally(() => acking.delete(p))
    }
  })()
  return {
    got,
    acked,
    sub,
    done,
    setAck(f: (n: number) => boolean) {
      shouldAck = f
    },
    /** Every ack sent so far has been answered. */
    settled: () => Promise.all([...acking]),
    numbers: () => new Set(got.map((g) => g.n)),
  }
}

async function publish(url: string, from: number, count: number) {
  const events = Array.from({ length: count }, (_, i) => ({
    key: `player-${(from + i) % 37}`,
    data: { n: from + i },
  }))
  const res = await api(url, 'POST', '/v1/topics/grp.events/events', { events })
  expect(res.status).toBe(201)
}

/** Who holds each partition of the group, straight from the database. */
async function owners(sql: ReturnType<typeof postgres>): Promise<Map<number, string | null>> {
  const rows = await sql`
    SELECT o.partition, o.owner FROM ql_consumer_offsets o JOIN ql_topics t ON t.id = o.topic_id
    WHERE o.group_name = 'workers' AND t.name = 'grp.events'`
  return new Map(rows.map((r) => [Number(r.partition), r.owner as string | null]))
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

describe('consumer groups across broker processes', () => {
  it('divides the partitions between two SDK clients on two brokers; kill -9 of one broker moves all 8 to the other, nothing acked comes again', async () => {
    const { databaseUrl, brokers } = await procs.cluster(2, ENV)
    const [b0, b1] = brokers as [(typeof brokers)[0], (typeof brokers)[0]]
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
    pools.push(sql)
    await createTopic(b0.url, 'grp.events', { partitions: PARTITIONS })

    // a joins alone and takes all 8; b joins on the other broker and a hands half over
    const a = member(client(b0.url))
    await waitFor('a holds all 8 partitions', 20_000, async () => {
      const o = await owners(sql)
      return o.size === PARTITIONS && new Set(o.values()).size === 1 && ![...o.values()].includes(null)
        ? true
        : undefined
    })
    const b = member(client(b1.url))
    const split = await waitFor('the group holds 4 and 4', 20_000, async () => {
      const o = await owners(sql)
      const count = new Map<string | null, number>()
      for (const v of o.values()) count.set(v, (count.get(v) ?? 0) + 1)
      return count.size === 2 && !count.has(null) && [...count.values()].every((c) => c === 4) ? o : undefined
    })

    // phase 1: every event once, to exactly one of the two
    await publish(b0.url, 0, 400)
    await waitFor('400 events received', 30_000, async () =>
      a.got.length + b.got.length >= 400 ? true : undefined,
    )
    const aParts = new Set(a.got.map((g) => g.partition))
    const bParts = new Set(b.got.map((g) => g.partition))
    expect([...aParts].filter((p) => bParts.has(p))).toEqual([])
    expect(aParts.size + bParts.size).toBe(PARTITIONS)
    const an = a.numbers()
    const bn = b.numbers()
    expect([...an].filter((n) => bn.has(n))).toEqual([])
    expect(new Set([...an, ...bn])).toEqual(new Set(range(0, 400)))
    expect(a.got.length + b.got.length).toBe(400)
    // the database agrees with what each received
    const aOwner = split.get([...aParts][0]!)
    for (const p of aParts) expect(split.get(p)).toBe(aOwner)
    for (const p of bParts) expect(split.get(p)).not.toBe(aOwner)

    // phase 2: a acks out of order, every third event left un-acked; then its broker dies
    a.setAck((n) => n % 3 !== 0)
    await publish(b1.url, 400, 300)
    await waitFor('700 events received', 30_000, async () =>
      a.got.length + b.got.length >= 700 ? true : undefined,
    )
    await a.settled()
    await b.settled()
    const unackedByA = new Set([...a.numbers()].filter((n) => n >= 400 && n % 3 === 0))
    expect(unackedByA.size).toBeGreaterThan(10)
    const ackedBefore = new Set([...a.acked, ...b.acked])
    expect(ackedBefore.size).toBe(700 - unackedByA.size)
    const bSeenBefore = b.got.length

    await b0.kill()
    const killedAt = Date.now()
    const bOwner = split.get([...bParts][0]!)!
    await waitFor('b holds all 8 partitions', 30_000, async () => {
      const o = await owners(sql)
      return o.size === PARTITIONS && [...o.values()].every((v) => v === bOwner) ? true : undefined
    })
    const takeoverMs = Date.now() - killedAt
    console.log(`partitions moved ${takeoverMs} ms after kill -9 (session timeout ${SESSION_TIMEOUT_MS} ms)`)
    // the session timeout, a heartbeat, and room for a loaded machine
    expect(takeoverMs).toBeLessThan(SESSION_TIMEOUT_MS + 10_000)

    // phase 3: b gets exactly what nobody acked, then the new events, never an acked one
    await publish(b1.url, 700, 200)
    const expected = new Set([...unackedByA, ...range(700, 900)])
    await waitFor('b received the rest', 30_000, async () => {
      const after = new Set(b.got.slice(bSeenBefore).map((g) => g.n))
      return [...expected].every((n) => after.has(n)) ? true : undefined
    })
    const after = b.got.slice(bSeenBefore).map((g) => g.n)
    expect(after.filter((n) => ackedBefore.has(n))).toEqual([])
    expect(new Set(after)).toEqual(expected)
    expect(after.length).toBe(expected.size)
    // per partition, in offset order
    const last = new Map<number, number>()
    for (const g of b.got.slice(bSeenBefore)) {
      expect(Number(g.offset)).toBeGreaterThan(last.get(g.partition) ?? -1)
      last.set(g.partition, Number(g.offset))
    }
    await b.settled()
    expect(new Set([...ackedBefore, ...b.acked])).toEqual(new Set(range(0, 900)))
  })
})
