import { destroyPgServers, startPgServer, stopAll } from '@questlog/testkit'
import postgres from 'postgres'
import { check, checkFigures, expectLogHolds, readLog } from '../checker'
import type { Scenario, ScenarioContext } from '../scenario'
import { CHAOS_ADMIN_KEY, createTopic, sleep, startChaosBroker, waitUntil } from '../system'
import { PublishLoad, type PublishLog } from '../workload'

const PARTITIONS = 4
const TOPIC = 'chaos.row-lock'
const LOCKED = 0
const HOLD_MS = 10_000

/** Latencies (ms) of acked publishes on partitions other than LOCKED that started in [from, to). */
function othersDuring(log: PublishLog, from: number, to: number): number[] {
  const out: number[] = []
  for (const [id, ack] of log.acked) {
    if (ack.partition === LOCKED) continue
    const started = log.started.get(id)!
    if (started >= from && started < to) out.push(log.settled.get(id)! - started)
  }
  return out.sort((a, b) => a - b)
}

/**
 * Another session (an operator's transaction, a stuck job) holds one partition's row lock for
 * 10 s under SDK load: that partition waits, the others, which share its write connections, go
 * on as before; when the lock goes, the waiting publishes are stored once each.
 */
export const rowLock: Scenario = {
  name: 'row-lock',
  title: `A transaction holds partition ${LOCKED}'s row lock for ${HOLD_MS / 1000} s under SDK load on ${PARTITIONS} partitions: the other partitions keep their latency, nothing acked is lost or stored twice, offsets gapless, every publish settles`,
  async run(ctx: ScenarioContext) {
    try {
      const pg = await startPgServer()
      const broker = await startChaosBroker(pg.url)
      await createTopic(broker.url, TOPIC, PARTITIONS)
      const load = new PublishLoad({
        brokers: [broker.url],
        token: CHAOS_ADMIN_KEY,
        topic: TOPIC,
        clients: 2 * PARTITIONS,
        window: 8,
        keys: 32,
        pinToPartitions: PARTITIONS,
      })
      await waitUntil(() => load.ackedCount >= 500, 60_000)
      const before = othersDuring(load.log, 0, performance.now())

      const sql = postgres(pg.url, { max: 1, onnotice: () => {} })
      const conn = await sql.reserve()
      await conn`BEGIN`
      await conn`SELECT 1 FROM ql_partitions WHERE partition = ${LOCKED}
                 AND topic_id = (SELECT id FROM ql_topics WHERE name = ${TOPIC}) FOR UPDATE`
      const lockedAt = performance.now()
      ctx.log(`partition ${LOCKED}'s row locked for ${HOLD_MS} ms`)
      await sleep(HOLD_MS)
      const releasedAt = performance.now()
      await conn`COMMIT`
      conn.release()
      await sql.end()
      ctx.log('lock released')
      const lockedAcked = () =>
        [...load.log.acked.entries()].filter(
          ([id, a]) => a.partition === LOCKED && load.log.settled.get(id)! >= releasedAt,
        ).length
      await waitUntil(() => lockedAcked() > 0, 30_000)
      await sleep(2000)
      await load.stop(60_000)

      const during = othersDuring(load.log, lockedAt, releasedAt)
      let lockedDuring = 0
      let firstAfterRelease = Number.POSITIVE_INFINITY
      for (const [id, ack] of load.log.acked) {
        if (ack.partition !== LOCKED) continue
        const at = load.log.settled.get(id)!
        if (at > lockedAt + 1000 && at < releasedAt) lockedDuring++
        if (at >= releasedAt) firstAfterRelease = Math.min(firstAfterRelease, at - releasedAt)
      }
      const entries = await readLog(broker.url, CHAOS_ADMIN_KEY, TOPIC, PARTITIONS)
      const c = check(load.log, entries)
      const unsettled = [...load.log.started.keys()].filter((id) => !load.log.settled.has(id)).length
      const pct = (xs: number[], q: number) =>
        xs.length === 0 ? -1 : Math.round(xs[Math.floor(q * (xs.length - 1))]!)
      Object.assign(ctx.figures, {
        ...checkFigures(c),
        unsettled,
        'other partitions: publishes started while the lock was held': during.length,
        'other partitions before the lock, p50 / p99 (ms)': `${pct(before, 0.5)} / ${pct(before, 0.99)}`,
        'other partitions during the lock, p50 / p99 / max (ms)': `${pct(during, 0.5)} / ${pct(during, 0.99)} / ${pct(during, 1)}`,
        'locked partition: acks while the lock was held': lockedDuring,
        'locked partition: first ack after the release (ms)': Number.isFinite(firstAfterRelease)
          ? Math.round(firstAfterRelease)
          : -1,
        'broker errors logged': broker.errors.length,
      })
      expectLogHolds(ctx, c)
      ctx.expect(c.failed === 0 && unsettled === 0, 'every publish is stored')
      ctx.expect(during.length > 100, 'the other partitions keep being written while the lock is held')
      // the lock-wait before a stalled partition moves to a connection of its own is 200 ms
      ctx.expect(pct(during, 1) < 3000, 'no publish on another partition waits for the lock')
      ctx.expect(lockedDuring === 0, 'the locked partition stores nothing while its lock is held elsewhere')
      ctx.expect(Number.isFinite(firstAfterRelease), 'the locked partition resumes after the release')
      await broker.stop()
    } finally {
      await stopAll()
      await destroyPgServers()
    }
  },
}
