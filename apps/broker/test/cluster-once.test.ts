import { createServer } from 'node:http'
import postgres from 'postgres'
import { afterAll, describe, expect, it } from 'vitest'
import { brokerProcesses, waitFor } from './broker-processes'
import { api, createTopic, readAll, sleep } from './helpers'

const DEAD_AFTER_MS = 1500
const ENV = { QUESTLOG_AUTH: 'off', QUESTLOG_WEBHOOK_ALLOW: '127.0.0.1' }

const procs = brokerProcesses()
const dbs: postgres.Sql[] = []
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.end()))
})

async function threeBrokers() {
  const { databaseUrl, brokers } = await procs.cluster(3, ENV)
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} })
  dbs.push(sql)
  return { sql, brokers }
}

async function publish(url: string, topic: string, n: number, partitions: number): Promise<void> {
  for (let i = 0; i < n; i += 500) {
    const events = Array.from({ length: Math.min(500, n - i) }, (_, j) => ({
      partition: (i + j) % partitions,
      data: { i: i + j },
    }))
    const res = await api(url, 'POST', `/v1/topics/${topic}/events`, { events })
    expect(res.status).toBe(201)
  }
}

async function readTopic(url: string, topic: string, partitions: number) {
  const all = []
  for (let p = 0; p < partitions; p++) all.push(...(await readAll(url, topic, p)))
  return all
}

/** Events stored in a topic so far. */
async function written(sql: postgres.Sql, topic: string): Promise<number> {
  const [row] = await sql`SELECT coalesce(sum(p.next_offset), 0)::int AS n FROM ql_partitions p
                          JOIN ql_topics t ON t.id = p.topic_id WHERE t.name = ${topic}`
  return row!.n as number
}

function counts(values: unknown[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const v of values) m.set(String(v), (m.get(String(v)) ?? 0) + 1)
  return m
}

describe('work that must run once runs once, across three broker processes', () => {
  it('a replay job moves to another broker when its owner is killed, and copies every event once', async () => {
    const { sql, brokers } = await threeBrokers()
    const a = brokers[0]!
    await createTopic(a.url, 'src', { partitions: 4 })
    await createTopic(a.url, 'dst', { partitions: 1 })
    await publish(a.url, 'src', 4000, 4)
    const job = await api(a.url, 'POST', '/v1/replays', {
      topic: 'src',
      fromOffset: 0,
      target: { topic: 'dst' },
      maxEventsPerSecond: 1000,
    })
    expect(job.status).toBe(201)
    const id = job.body.id as string
    // the broker that took the job runs it: a
    const owner = a
    await waitFor('a quarter done', 20_000, async () => {
      const r = await api(a.url, 'GET', `/v1/replays/${id}`)
      return r.body.scanned >= 1000 ? true : undefined
    })
    const killedAt = Date.now()
    await owner.kill()
    const [before] = await sql`SELECT scanned FROM ql_replay_jobs WHERE id = ${id}`
    const live = brokers.filter((b) => b !== owner)
    // another broker carries on from the stored progress
    await waitFor('progress after the kill', 15_000, async () => {
      const [now] = await sql`SELECT scanned FROM ql_replay_jobs WHERE id = ${id}`
      return Number(now!.scanned) > Number(before!.scanned) + 1 ? true : undefined
    })
    const takeoverMs = Date.now() - killedAt
    // within the lease time, plus the heartbeat that notices and a margin for a busy machine
    expect(takeoverMs).toBeLessThan(DEAD_AFTER_MS + 2500)
    const done = await waitFor('the job finishes', 30_000, async () => {
      const r = await api(live[0]!.url, 'GET', `/v1/replays/${id}`)
      return r.body.status === 'done' ? r.body : undefined
    })
    expect(done.scanned).toBe(4000)
    const copies = await readTopic(live[1]!.url, 'dst', 1)
    const sources = counts(copies.map((e) => e.headers['ql-replay-source']))
    expect(sources.size).toBe(4000)
    expect([...sources.values()].every((n) => n === 1)).toBe(true)
    expect(copies).toHaveLength(4000)
    console.info(`replay job: progress resumed ${takeoverMs} ms after kill -9 of its owner`)
  })

  it('scheduled events due together are each written once when a broker writing them is killed', async () => {
    const { sql, brokers } = await threeBrokers()
    const a = brokers[0]!
    await createTopic(a.url, 'later', { partitions: 2 })
    const total = 2000
    const deliverAt = new Date(Date.now() + 6000).toISOString()
    for (let i = 0; i < total; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          api(brokers[(i + j) % 3]!.url, 'POST', '/v1/topics/later/scheduled', {
            event: { data: { i: i + j } },
            deliverAt,
          }).then((r) => expect(r.status).toBe(201)),
        ),
      )
    }
    // all three write due events at once (each claims its own rows): kill one as they start
    await waitFor('the first events written', 20_000, async () =>
      (await written(sql, 'later')) > 0 ? true : undefined,
    )
    const writer = brokers[1]!
    await writer.kill()
    expect(await written(sql, 'later')).toBeLessThan(total)
    const live = brokers.filter((b) => b !== writer)
    const events = await waitFor('every scheduled event written', 30_000, async () => {
      const [left] = await sql`SELECT count(*)::int AS n FROM ql_scheduled`
      if (left!.n > 0) return undefined
      return readTopic(live[0]!.url, 'later', 2)
    })
    const seen = counts(events.map((e) => e.data.i))
    expect(seen.size).toBe(total)
    expect([...seen.values()].every((n) => n === 1)).toBe(true)
    expect(events).toHaveLength(total)
    // (three processes and 2,000 scheduling requests: a loaded machine needs more than the default)
  }, 120_000)

  it('a webhook survives kill -9 of its pusher mid-batch: every event arrives, a repeat only under the key in flight', async () => {
    const { brokers } = await threeBrokers()
    const a = brokers[0]!
    const arrivals: Array<{ key: string | undefined; ids: number[]; at: number }> = []
    let onArrival: (() => void) | undefined
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => {
        body += c
      })
      req.on('end', () => {
        const doc = JSON.parse(body)
        const ids = (doc.events as Array<{ data: { i: number } }>).map((e) => e.data.i)
        arrivals.push({ key: req.headers['idempotency-key'] as string | undefined, ids, at: Date.now() })
        onArrival?.()
        // slow enough that a batch is in flight most of the time
        setTimeout(() => res.writeHead(204).end(), 60)
      })
      res.on('error', () => {})
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const port = (server.address() as { port: number }).port
      await createTopic(a.url, 'kills', { partitions: 4 })
      const created = await api(a.url, 'POST', '/v1/subscriptions', {
        name: 'kills-hook',
        topic: 'kills',
        from: 'earliest',
        webhook: {
          url: `http://127.0.0.1:${port}/hook`,
          batchSize: 20,
          retryBackoffMs: [100],
          timeoutMs: 3000,
        },
      })
      expect(created.status).toBe(201)
      const total = 1200
      await publish(a.url, 'kills', total, 4)
      // the broker pushing it is the one that reports a pusher's state
      const pusher = await waitFor('the pusher', 10_000, async () => {
        for (const b of brokers) {
          const r = await api(b.url, 'GET', '/v1/subscriptions/kills-hook/webhook')
          if (r.body.state?.delivered > 0) return b
        }
        return undefined
      })
      await waitFor('a third delivered', 30_000, async () =>
        arrivals.reduce((n, x) => n + x.ids.length, 0) >= total / 3 ? true : undefined,
      )
      // kill it while the endpoint holds a request: the batch in flight is never answered
      const inFlight = await new Promise<(typeof arrivals)[number]>((resolve) => {
        onArrival = () => resolve(arrivals.at(-1)!)
      })
      onArrival = undefined
      const killedAt = Date.now()
      await pusher.kill()
      await waitFor('every event arrives', 40_000, async () =>
        new Set(arrivals.flatMap((x) => x.ids)).size === total ? true : undefined,
      )
      const resumedAt = arrivals.find((x) => x.at > killedAt)!.at
      expect(arrivals.every((x) => typeof x.key === 'string' && x.key.length > 0)).toBe(true)
      // what arrived twice arrived in the batch in flight at the kill, and again under its key
      const byId = new Map<number, string[]>()
      for (const x of arrivals) for (const i of x.ids) byId.set(i, [...(byId.get(i) ?? []), x.key!])
      const repeated = [...byId].filter(([, keys]) => keys.length > 1)
      for (const [i, keys] of repeated) {
        expect(inFlight.ids).toContain(i)
        expect(keys).toEqual([inFlight.key, inFlight.key])
      }
      // a receiver that drops repeated keys sees each event once
      const seenKeys = new Set<string>()
      const once = arrivals.filter((x) => !seenKeys.has(x.key!) && seenKeys.add(x.key!))
      const onceCounts = counts(once.flatMap((x) => x.ids))
      expect(onceCounts.size).toBe(total)
      expect([...onceCounts.values()].every((n) => n === 1)).toBe(true)
      console.info(
        `webhook: ${repeated.length} events resent under the key in flight; the next broker pushed ${resumedAt - killedAt} ms after kill -9`,
      )
    } finally {
      onArrival = undefined
      await new Promise((r) => server.close(r))
    }
  })

  it('a stalled owner loses its work within the lease time and, woken, writes nothing twice', async () => {
    const { sql, brokers } = await threeBrokers()
    const a = brokers[0]!
    await createTopic(a.url, 'hist', { partitions: 2 })
    await publish(a.url, 'hist', 3000, 2)
    const job = await api(a.url, 'POST', '/v1/replays', {
      topic: 'hist',
      fromOffset: 0,
      target: { subscription: 'hist-again' },
      maxEventsPerSecond: 1000,
    })
    expect(job.status).toBe(201)
    const id = job.body.id as string
    // the broker that took the job runs it
    const owner = a
    // a consumer on another broker takes and acks everything the replay hands the subscription
    const b = brokers.find((x) => x !== owner)!
    const delivered: number[] = []
    let consuming = true
    const consumer = (async () => {
      while (consuming) {
        const r = await api(b.url, 'POST', '/v1/subscriptions/hist-again/pull', {
          member: 'c1',
          max: 200,
          waitMs: 200,
        })
        if (r.status !== 200) continue
        const list = r.body.deliveries as Array<{ token: string; event: { data: { i: number } } }>
        if (list.length === 0) continue
        delivered.push(...list.map((d) => d.event.data.i))
        await api(b.url, 'POST', '/v1/subscriptions/hist-again/ack', { tokens: list.map((d) => d.token) })
      }
    })()
    try {
      await waitFor('some progress', 20_000, async () => {
        const r = await api(b.url, 'GET', `/v1/replays/${id}`)
        return r.body.scanned >= 600 ? true : undefined
      })
      const stalled = owner
      stalled.pause()
      const pausedAt = Date.now()
      const [before] = await sql`SELECT scanned FROM ql_replay_jobs WHERE id = ${id}`
      // the others take the job over and carry on while the owner is still stalled
      await waitFor('progress while the owner is stalled', DEAD_AFTER_MS + 8000, async () => {
        const [now] = await sql`SELECT scanned FROM ql_replay_jobs WHERE id = ${id}`
        return Number(now!.scanned) > Number(before!.scanned) + 500 ? true : undefined
      })
      const movedMs = Date.now() - pausedAt
      stalled.resume()
      await waitFor('the job finishes', 30_000, async () => {
        const r = await api(b.url, 'GET', `/v1/replays/${id}`)
        return r.body.status === 'done' ? true : undefined
      })
      await waitFor('every event delivered', 20_000, async () =>
        new Set(delivered).size === 3000 ? true : undefined,
      )
      // the woken owner's writes were fenced off: nothing was handed over twice
      await sleep(1000)
      const seen = counts(delivered)
      expect(seen.size).toBe(3000)
      expect([...seen.entries()].filter(([, n]) => n > 1)).toEqual([])
      console.info(`replay job: progress resumed ${movedMs} ms after its owner was stalled (SIGSTOP)`)
    } finally {
      owner.resume()
      consuming = false
      await consumer
    }
  })

  it('scheduled events held by a stalled broker go to another within the lease time, each written once', async () => {
    const { sql, brokers } = await threeBrokers()
    const a = brokers[0]!
    await createTopic(a.url, 'due', { partitions: 1 })
    const total = 2000
    const deliverAt = new Date(Date.now() + 6000).toISOString()
    for (let i = 0; i < total; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          api(a.url, 'POST', '/v1/topics/due/scheduled', { event: { data: { i: i + j } }, deliverAt }).then(
            (r) => expect(r.status).toBe(201),
          ),
        ),
      )
    }
    // as the writing starts, two of the three brokers stall with the rows they claimed
    await waitFor('the first events written', 20_000, async () =>
      (await written(sql, 'due')) > 0 ? true : undefined,
    )
    const stalled = [brokers[1]!, brokers[2]!]
    for (const b of stalled) b.pause()
    const pausedAt = Date.now()
    try {
      // while they are still stalled, the third writes every event
      const events = await waitFor(
        'every event written while two writers are stalled',
        DEAD_AFTER_MS + 15_000,
        async () => {
          const [left] = await sql`SELECT count(*)::int AS n FROM ql_scheduled`
          return left!.n === 0 ? readTopic(a.url, 'due', 1) : undefined
        },
      )
      console.info(
        `scheduled: the stalled brokers' events were all written ${Date.now() - pausedAt} ms after they stalled`,
      )
      for (const b of stalled) b.resume()
      await sleep(2000)
      const after = await readTopic(a.url, 'due', 1)
      expect(after.length).toBe(events.length)
      const seen = counts(after.map((e) => e.data.i))
      expect(seen.size).toBe(total)
      expect([...seen.values()].every((n) => n === 1)).toBe(true)
    } finally {
      for (const b of stalled) b.resume()
    }
  })

  it('retention, the stats collector, the audit retention and the dead-letter sweep each run on one live broker', async () => {
    const { sql, brokers } = await threeBrokers()
    const singletons = ['retention', 'audit-retention', 'subscription-stats', 'dead-letter-copies'].map(
      (n) => `singleton:${n}`,
    )
    // each held by one live broker, and spread: the first broker up gives the others their share
    const share = Math.ceil(singletons.length / brokers.length)
    const holders = await waitFor('every singleton held, spread over the brokers', 10_000, async () => {
      const rows =
        await sql`SELECT name, holder FROM ql_leases WHERE name = ANY(${singletons}) AND expires_at > now()`
      const per = counts(rows.map((h) => h.holder))
      return rows.length === singletons.length && Math.max(...per.values()) <= share ? rows : undefined
    })
    for (const h of holders) expect(brokers.map((b) => b.id)).toContain(h.holder)

    // a dead letter a broker recorded but died before copying: the sweep publishes its copy, once
    const a = brokers[0]!
    await createTopic(a.url, 'orders', { partitions: 1 })
    await publish(a.url, 'orders', 1, 1)
    const created = await api(a.url, 'POST', '/v1/subscriptions', {
      name: 'orders-q',
      topic: 'orders',
      mode: 'queue',
    })
    expect(created.status).toBe(201)
    await sql`INSERT INTO ql_dead_letters (subscription_id, topic_id, partition, "offset", reason, deliveries, copy_pending)
              SELECT s.id, t.id, 0, 0, 'given up', 5, true FROM ql_subscriptions s, ql_topics t
              WHERE s.name = 'orders-q' AND t.name = 'orders'`

    const retention = brokers.find(
      (b) => b.id === holders.find((h) => h.name === 'singleton:retention')!.holder,
    )!
    const killedAt = Date.now()
    await retention.kill()
    const live = brokers.filter((b) => b !== retention)
    const next = await waitFor('retention moves to a live broker', DEAD_AFTER_MS + 3000, async () => {
      const [row] =
        await sql`SELECT holder FROM ql_leases WHERE name = 'singleton:retention' AND expires_at > now()`
      return live.find((b) => b.id === row?.holder)
    })
    expect(Date.now() - killedAt).toBeLessThan(DEAD_AFTER_MS + 2000)
    expect(live).toContain(next)
    const copies = await waitFor('the copy is published', 15_000, async () => {
      const [pending] = await sql`SELECT count(*)::int AS n FROM ql_dead_letters WHERE copy_pending`
      if (pending!.n > 0) return undefined
      return readTopic(live[0]!.url, 'orders-q.dlq', 1)
    })
    await sleep(2 * DEAD_AFTER_MS)
    expect(await readTopic(live[0]!.url, 'orders-q.dlq', 1)).toHaveLength(copies.length)
    expect(copies).toHaveLength(1)
    expect(copies[0].headers['ql-dlq-reason']).toBe('given up')
  })
})
