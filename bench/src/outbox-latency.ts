// Outbox → log latency (issue 20): npm run bench:outbox -w bench [-- --rate 500 --seconds 20]
// Transactions on a game database each publish one event with publishInTransaction; the broker
// relays them. Measured from the moment COMMIT returns to the game: the log's commit (the
// event's `time`) and the callback of a live SDK subscriber.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createClient, publishInTransaction } from '@questlog/sdk-node'
import { buildBroker, startBroker, stopAll } from '@questlog/testkit'
import postgres from 'postgres'
import { BENCH_ADMIN_KEY } from './auth'
import { openDatabase } from './database'
import { percentileSorted } from './stats'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const rate = arg('rate', 500)
const seconds = arg('seconds', 20)
const log = (s: string) => process.stderr.write(`${s}\n`)

async function main(): Promise<void> {
  buildBroker()
  const db = await openDatabase(process.env)
  const admin = postgres(db.url, { max: 1, onnotice: () => {} })
  await admin.unsafe('DROP DATABASE IF EXISTS questlog_bench_game')
  await admin.unsafe('CREATE DATABASE questlog_bench_game')
  await admin.end()
  const url = new URL(db.url)
  url.pathname = '/questlog_bench_game'
  const gameUrl = url.toString()
  const game = postgres(gameUrl, { max: 4, onnotice: () => {} })
  const migration = createRequire(import.meta.url).resolve(
    '@questlog/sdk-node/migrations/questlog-outbox.sql',
  )
  await game.unsafe(readFileSync(migration, 'utf8'))
  const broker = await startBroker(db.url, {
    adminKey: BENCH_ADMIN_KEY,
    env: { QUESTLOG_OUTBOX_DATABASE_URL: gameUrl, LOG_LEVEL: 'warn' },
  })
  try {
    await fetch(`${broker.url}/v1/topics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_ADMIN_KEY}` },
      body: JSON.stringify({ name: 'bench.outbox', partitions: 4 }),
    })
    const bus = createClient({ brokers: [broker.url], token: BENCH_ADMIN_KEY })
    const committed = new Map<number, number>()
    const arrived = new Map<number, { subscriber: number; log: number }>()
    const total = rate * seconds
    const sub = bus.subscribe<{ i: number }>('bench.outbox', { from: 'latest' })
    await new Promise((r) => setTimeout(r, 500))
    const received = (async () => {
      for await (const ev of sub) {
        // an event may arrive before its COMMIT has returned to the game: compared afterwards
        arrived.set(ev.data.i, { subscriber: Date.now(), log: Date.parse(ev.time) })
        if (arrived.size === total) break
      }
    })()
    log(`${total} transactions at ${rate}/s`)
    const t0 = performance.now()
    const inFlight: Promise<void>[] = []
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / rate
      const wait = due - performance.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      inFlight.push(
        game
          .begin((tx) => publishInTransaction(tx, 'bench.outbox', { i }, { key: `player-${i % 100}` }))
          .then(() => {
            committed.set(i, Date.now())
          }),
      )
    }
    await Promise.all(inFlight)
    await Promise.race([received, new Promise((r) => setTimeout(r, 30_000))])
    sub.close()
    await bus.close()
    const toLog: number[] = []
    const toSubscriber: number[] = []
    for (const [i, a] of arrived) {
      const at = committed.get(i)!
      toLog.push(a.log - at)
      toSubscriber.push(a.subscriber - at)
    }
    if (arrived.size < total) log(`only ${arrived.size} of ${total} events arrived within 30 s`)
    const report = (name: string, values: number[]) => {
      const s = [...values].sort((a, b) => a - b)
      const p = (q: number) => percentileSorted(s, q).toFixed(1)
      return `| ${name} | ${s.length} | ${p(50)} | ${p(99)} | ${s.at(-1)} |`
    }
    console.log(`outbox → log at ${rate} transactions/s for ${seconds} s (1 event each, 4 partitions)\n`)
    console.log('| from COMMIT returning to | events | p50 ms | p99 ms | max ms |')
    console.log('| --- | --- | --- | --- | --- |')
    console.log(report("the log's commit (event time)", toLog))
    console.log(report('a live SDK subscriber', toSubscriber))
  } finally {
    await game.end()
    await stopAll()
    await db.stop()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
