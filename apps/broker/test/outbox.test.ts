import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { publishInTransaction } from '@questlog/sdk-node'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { ADMIN, brokerProcesses } from './broker-processes'
import { api, createTopic, freshDatabase, sleep, startBroker } from './helpers'

const MIGRATION = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../packages/sdk-node/migrations/questlog-outbox.sql',
)

// `pg` ships no types of its own; the little used here
interface PgClient {
  connect(): Promise<void>
  query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>
  end(): Promise<void>
}
const pg = createRequire(import.meta.url)('pg') as {
  Client: new (o: { connectionString: string }) => PgClient
}

/** A game's own database with the outbox migration applied, as its README says. */
async function gameDatabase(): Promise<string> {
  const url = await freshDatabase()
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  await sql.unsafe(await readFile(MIGRATION, 'utf8'))
  // applying it twice changes nothing
  await sql.unsafe(await readFile(MIGRATION, 'utf8'))
  await sql`CREATE TABLE players (id text PRIMARY KEY, n integer NOT NULL DEFAULT 0)`
  await sql.end()
  return url
}

async function readAll(base: string, topic: string, partitions: number, headers = {}) {
  const all: any[] = []
  for (let p = 0; p < partitions; p++) {
    let from = '0'
    for (;;) {
      const res = await api(
        base,
        'GET',
        `/v1/topics/${topic}/events?partition=${p}&from=${from}&limit=1000`,
        undefined,
        headers,
      )
      expect(res.status).toBe(200)
      all.push(...res.body.events)
      if (res.body.events.length < 1000) break
      from = res.body.next
    }
  }
  return all
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(100)
  }
}

describe('transactional publish (outbox)', () => {
  let broker: Broker
  let game: string
  beforeAll(async () => {
    game = await gameDatabase()
    broker = await startBroker({ outboxDatabaseUrl: game })
  })
  afterAll(() => broker.stop())

  it('publishes what postgres, pg and drizzle transactions commit, never what they roll back; a row it cannot publish stays with its error and holds nothing up', async () => {
    await createTopic(broker.url, 'game.rewards', { partitions: 2 })
    const sql = postgres(game, { max: 2, onnotice: () => {} })
    const client = new pg.Client({ connectionString: game })
    await client.connect()
    const rollback = new Error('roll back')
    const attempt = async (f: () => Promise<unknown>) => f().catch((e) => expect(e).toBe(rollback))

    // postgres.js
    await sql.begin(async (tx) => {
      await publishInTransaction(tx, 'game.rewards', { via: 'postgres', ok: true }, { key: 'a' })
    })
    await attempt(() =>
      sql.begin(async (tx) => {
        await publishInTransaction(tx, 'game.rewards', { via: 'postgres', ok: false }, { key: 'a' })
        throw rollback
      }),
    )
    // pg
    await client.query('BEGIN')
    await publishInTransaction(
      client,
      'game.rewards',
      { via: 'pg', ok: true },
      { key: 'b', type: 'game.gold' },
    )
    await client.query('COMMIT')
    await client.query('BEGIN')
    await publishInTransaction(client, 'game.rewards', { via: 'pg', ok: false }, { key: 'b' })
    await client.query('ROLLBACK')
    // a row naming a topic that does not exist: kept with its error, the rows after it still go
    await sql.begin((tx) => publishInTransaction(tx, 'game.nowhere', { lost: true }, { key: 'z' }))
    // drizzle over both drivers; a payload that tries to close the literal it travels in is only data
    const hostile = { via: 'drizzle-postgres', ok: true, text: "'); DROP TABLE players; --$$ $ql$" }
    await drizzlePostgres(sql).transaction(async (tx) => {
      await publishInTransaction(tx, 'game.rewards', hostile, { key: 'c', headers: { round: '1' } })
    })
    await attempt(() =>
      drizzlePostgres(sql).transaction(async (tx) => {
        await publishInTransaction(tx, 'game.rewards', { via: 'drizzle-postgres', ok: false }, { key: 'c' })
        throw rollback
      }),
    )
    await drizzlePg(client as never).transaction(async (tx) => {
      await publishInTransaction(tx, 'game.rewards', { via: 'drizzle-pg', ok: true }, { key: 'd' })
    })

    await until('the outbox relayed', async () => {
      const [row] = await sql`SELECT count(*) AS n FROM questlog_outbox WHERE error IS NULL`
      return Number(row!.n) === 0
    })
    const events = (await readAll(broker.url, 'game.rewards', 2)).sort((x, y) => x.time.localeCompare(y.time))
    expect(events.map((e) => e.data)).toEqual([
      { via: 'postgres', ok: true },
      { via: 'pg', ok: true },
      hostile,
      { via: 'drizzle-pg', ok: true },
    ])
    expect(events[1]).toMatchObject({ type: 'game.gold', key: 'b', source: '/outbox' })
    expect(events[2].headers).toMatchObject({ round: '1' })
    expect(events.every((e) => /^outbox:\d+$/.test(e.dedupeKey))).toBe(true)
    const stuck = await sql`SELECT topic, error FROM questlog_outbox`
    expect(stuck).toHaveLength(1)
    expect(stuck[0]!.topic).toBe('game.nowhere')
    expect(stuck[0]!.error).toMatch(/topic_not_found/)
    expect((await sql`SELECT count(*) AS n FROM players`)[0]!.n).toBe('0')
    await client.end()
    await sql.end()
  })
})

describe('outbox relay across a kill -9', () => {
  const procs = brokerProcesses()

  it('10,000 transactions, a random 20% rolled back, the relaying broker killed mid-relay: exactly the committed events are in the log, each once, in commit order per key', async () => {
    const game = await gameDatabase()
    const { databaseUrl, brokers } = await procs.cluster(2, { QUESTLOG_OUTBOX_DATABASE_URL: game })
    const partitions = 4
    const created = await api(
      brokers[0]!.url,
      'POST',
      '/v1/topics',
      { name: 'game.awards', partitions },
      ADMIN,
    )
    expect(created.status).toBe(201)
    const meta = postgres(databaseUrl, { max: 1, onnotice: () => {} })
    const sql = postgres(game, { max: 8, onnotice: () => {} })
    const keys = Array.from({ length: 100 }, (_, i) => `player-${i}`)
    await sql`INSERT INTO players (id) SELECT unnest(${keys}::text[])`

    const total = 10_000
    const rolledBack = new Set<number>()
    const committedAt = new Map<number, number>()
    let next = 0
    let killed: string | undefined
    const writer = async () => {
      while (next < total) {
        const i = next++
        const key = keys[Math.floor(Math.random() * keys.length)]!
        const back = Math.random() < 0.2
        try {
          await sql.begin(async (tx) => {
            const [row] = await tx`UPDATE players SET n = n + 1 WHERE id = ${key} RETURNING n`
            await publishInTransaction(tx, 'game.awards', { i, key, n: row!.n }, { key })
            if (back) throw new Error('rolled back')
          })
          committedAt.set(i, Date.now())
        } catch (e) {
          if ((e as Error).message !== 'rolled back') throw e
          rolledBack.add(i)
        }
      }
    }
    const killer = (async () => {
      // once the relay is well under way, the broker doing it dies without a word
      await until('relay under way', async () => committedAt.size >= 3000, 120_000)
      const [lease] = await meta`SELECT holder FROM ql_leases WHERE name = 'singleton:outbox-relay'`
      const victim = brokers.find((b) => b.id === lease?.holder)
      expect(victim).toBeDefined()
      killed = victim!.id
      await victim!.kill()
    })()
    await Promise.all([...Array.from({ length: 8 }, writer), killer])
    expect(killed).toBeDefined()
    expect(committedAt.size + rolledBack.size).toBe(total)

    const survivor = brokers.find((b) => b.id !== killed)!
    await until(
      'the outbox drained by the surviving broker',
      async () => Number((await sql`SELECT count(*) AS n FROM questlog_outbox`)[0]!.n) === 0,
      120_000,
    )
    const events = await readAll(survivor.url, 'game.awards', partitions, ADMIN)
    const seen = new Set<number>()
    for (const e of events) {
      expect(seen.has(e.data.i), `event ${e.data.i} twice`).toBe(false)
      seen.add(e.data.i)
      expect(rolledBack.has(e.data.i), `rolled-back ${e.data.i} published`).toBe(false)
    }
    expect(seen.size).toBe(committedAt.size)
    // per key, in log order, n counts 1, 2, 3 …: the order the row lock made the commits take
    const finals = new Map((await sql`SELECT id, n FROM players`).map((r) => [r.id as string, r.n as number]))
    const byKey = new Map<string, number[]>()
    for (const e of events.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset))) {
      const list = byKey.get(e.key) ?? []
      list.push(e.data.n)
      byKey.set(e.key, list)
    }
    for (const key of keys) {
      const n = finals.get(key)!
      expect(byKey.get(key) ?? [], key).toEqual(Array.from({ length: n }, (_, j) => j + 1))
    }
    // commit to log, for those relayed while nobody was killed or taking over (the event's time is the log's commit)
    const lat = events.map((e) => Date.parse(e.time) - committedAt.get(e.data.i)!).sort((a, b) => a - b)
    const q = (x: number) => lat[Math.floor((lat.length - 1) * x)]
    console.log(
      `outbox to log over ${lat.length} events, a takeover included: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms`,
    )
    await meta.end()
    await sql.end()
  }, 300_000)
})
