// Key-ordered queue throughput (issue 20): npm run bench:key-order -w bench [-- --seconds 10 --work-ms 5]
// One broker process, a topic of 8 partitions holding a backlog over 1,000 keys, and a queue
// subscription with `ordering: "key"`. Members (SDK clients, one event at a time each) spend a
// fixed time per event, then ack. Measured: events acked per second with 1 member and with 8,
// each on a fresh subscription reading the same backlog from the start.
import { createClient, type QuestlogClient } from '@questlog/sdk-node'
import { buildBroker, startBroker, stopAll } from '@questlog/testkit'
import { AUTH_HEADER, BENCH_ADMIN_KEY } from './auth'
import { openDatabase } from './database'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const seconds = arg('seconds', 10)
const workMs = arg('work-ms', 5)
const KEYS = 1000
const BACKLOG = 30_000
const log = (s: string) => process.stderr.write(`${s}\n`)

async function call(url: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH_HEADER },
    body: JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
}

/** Events acked per second by `members` members over `seconds`, after a second of warm-up. */
async function measure(url: string, members: number): Promise<number> {
  const name = `bench-keyed-${members}`
  await call(url, '/v1/subscriptions', {
    name,
    topic: 'bench.keyed',
    mode: 'queue',
    ordering: 'key',
    from: 'earliest',
  })
  let acked = 0
  let counting = false
  const clients: QuestlogClient[] = []
  const loops = Array.from({ length: members }, async () => {
    const bus = createClient({ brokers: [url], token: BENCH_ADMIN_KEY })
    clients.push(bus)
    const sub = bus.subscribe(`bench.keyed`, { subscription: name, ordering: 'key', credits: 2 })
    for await (const ev of sub) {
      await new Promise((r) => setTimeout(r, workMs))
      await ev.ack().catch(() => {})
      if (counting) acked++
    }
  })
  await new Promise((r) => setTimeout(r, 1000))
  counting = true
  const t0 = performance.now()
  await new Promise((r) => setTimeout(r, seconds * 1000))
  counting = false
  const rate = acked / ((performance.now() - t0) / 1000)
  // a member may be waiting on an ack as its client closes: the loops are not waited for
  await Promise.all(clients.map((c) => c.close().catch(() => {})))
  void Promise.allSettled(loops)
  return rate
}

async function main(): Promise<void> {
  buildBroker()
  const db = await openDatabase(process.env)
  const broker = await startBroker(db.url, { adminKey: BENCH_ADMIN_KEY, env: { LOG_LEVEL: 'warn' } })
  try {
    await call(broker.url, '/v1/topics', { name: 'bench.keyed', partitions: 8 })
    for (let i = 0; i < BACKLOG; i += 1000) {
      const events = Array.from({ length: 1000 }, (_, j) => ({
        key: `player-${(i + j) % KEYS}`,
        data: { i: i + j },
      }))
      await call(broker.url, '/v1/topics/bench.keyed/events', { events })
    }
    log(`${BACKLOG} events over ${KEYS} keys; ${workMs} ms of work per event; ${seconds} s per run`)
    const one = await measure(broker.url, 1)
    log(`1 member: ${one.toFixed(0)} events/s`)
    const eight = await measure(broker.url, 8)
    log(`8 members: ${eight.toFixed(0)} events/s`)
    console.log(
      `key-ordered queue, ${workMs} ms per event, ${KEYS} keys, 8 partitions, ${seconds} s per run\n`,
    )
    console.log('| members | events acked/s |')
    console.log('| --- | --- |')
    console.log(`| 1 | ${one.toFixed(0)} |`)
    console.log(`| 8 | ${eight.toFixed(0)} |`)
    console.log(`\n8 members / 1 member: ${(eight / one).toFixed(1)}×`)
  } finally {
    await stopAll()
    await db.stop()
  }
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
