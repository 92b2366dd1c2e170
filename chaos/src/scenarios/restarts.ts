import { destroyPgServers, startPgServer, stopAll } from '@questlog/testkit'
import { check, checkFigures, expectLogHolds, readLog } from '../checker'
import type { Scenario, ScenarioContext } from '../scenario'
import { CHAOS_ADMIN_KEY, createTopic, sleep, startChaosBroker, waitUntil } from '../system'
import { LiveReaders, PublishLoad } from '../workload'

const PARTITIONS = 4
/** Every publish must settle within this of PostgreSQL's return. */
const SETTLE_MS = 30_000

export interface RestartOptions {
  restarts: number
  /** Live readers of the topic during the restarts (0: none). */
  readers: number
  /** Load between restarts, in ms. */
  betweenMs: number
}

/**
 * Immediate restarts (`pg_ctl restart -m immediate`: SIGQUIT to the
 * postmaster, crash recovery at start) of the one PostgreSQL under SDK load.
 */
export function restartScenario(name: string, o: RestartOptions): Scenario {
  return {
    name,
    title: `${o.restarts} immediate restarts of PostgreSQL under SDK load${o.readers > 0 ? `, ${o.readers} live subscribers` : ', no subscribers'}: every publish settles within 30 s of PostgreSQL's return, no unhandled error, the broker stays up, no subscription ends, no partition starves, nothing acked is lost or stored twice, offsets gapless`,
    run: (ctx) => runRestarts(ctx, name, o),
  }
}

async function runRestarts(ctx: ScenarioContext, name: string, o: RestartOptions): Promise<void> {
  const topic = `chaos.${name}`
  try {
    const pg = await startPgServer()
    const broker = await startChaosBroker(pg.url)
    await createTopic(broker.url, topic, PARTITIONS)
    const readers = new LiveReaders([broker.url], CHAOS_ADMIN_KEY, topic, o.readers)
    const load = new PublishLoad({
      brokers: [broker.url],
      token: CHAOS_ADMIN_KEY,
      topic,
      clients: 3,
      window: 8,
      keys: 32,
    })
    await waitUntil(() => load.ackedCount >= 300, 30_000)
    const returns: number[] = []
    const outages: number[] = []
    const firstAfter: number[] = []
    for (let i = 0; i < o.restarts; i++) {
      const t0 = performance.now()
      await pg.stop('immediate')
      await pg.start()
      const back = performance.now()
      returns.push(back)
      outages.push(Math.round(back - t0))
      const acked = load.ackedCount
      await waitUntil(() => load.ackedCount > acked + 200, SETTLE_MS)
      const first = load.log.firstAckStartedAfter(back)
      firstAfter.push(first === undefined ? -1 : Math.round(first))
      ctx.log(
        `restart ${i + 1}: PostgreSQL down ${outages[i]} ms, first publish after its return acked in ${firstAfter[i]} ms`,
      )
      await sleep(o.betweenMs)
    }
    const lastBack = returns[returns.length - 1]!
    // every partition takes publishes again after the last restart
    const since = new Set<number>()
    for (const [id, ack] of load.log.acked)
      if ((load.log.started.get(id) ?? 0) > lastBack) since.add(ack.partition)
    await load.stop(SETTLE_MS + 10_000)
    const entries = await readLog(broker.url, CHAOS_ADMIN_KEY, topic, PARTITIONS)
    const c = check(load.log, entries)
    const late = returns.reduce((n, t) => n + load.log.settledLaterThan(t, SETTLE_MS), 0)
    const missing = await readers.waitFor(
      entries.map((e) => e.id),
      30_000,
    )
    await readers.close()
    const alive = broker.child.exitCode === null && broker.child.signalCode === null
    Object.assign(ctx.figures, {
      restarts: o.restarts,
      ...checkFigures(c),
      'PostgreSQL down per restart (ms)': outages.join(', '),
      'first publish after the return acked in (ms)': firstAfter.join(', '),
      'publishes not settled within 30 s of a return': late,
      'outage without acks, longest (ms)': Math.round(
        Math.max(
          ...returns.map((t, i) =>
            load.log.longestAckGap(t - outages[i]! - 1, Math.min(t + SETTLE_MS, load.stoppedAt)),
          ),
        ),
      ),
      'subscriptions ended': readers.ended.filter(Boolean).length,
      'events a subscriber still lacked 30 s after the end': Math.max(0, ...missing),
      'broker errors logged': broker.errors.length,
    })
    expectLogHolds(ctx, c)
    ctx.expect(late === 0, "every publish settles within 30 s of PostgreSQL's return")
    ctx.expect(
      firstAfter.every((ms) => ms >= 0),
      'publishing resumes after every restart',
    )
    ctx.expect(alive, 'the broker stays up')
    ctx.expect(!broker.errors.some((l) => /Unhandled|uncaught/i.test(l)), 'no unhandled error')
    ctx.expect(
      readers.ended.every((e) => e === undefined),
      `no subscription ends (${readers.ended.filter(Boolean).join('; ')})`,
    )
    ctx.expect(
      missing.every((m) => m === 0),
      'every subscriber receives every stored event',
    )
    ctx.expect(
      since.size === PARTITIONS,
      `no partition starves (${since.size} of ${PARTITIONS} took publishes after the last restart)`,
    )
    await broker.stop()
  } finally {
    await stopAll()
    await destroyPgServers()
  }
}

export const restartsNoSubscribers = restartScenario('restarts', { restarts: 3, readers: 0, betweenMs: 2000 })
export const restartsWithSubscribers = restartScenario('restarts-subscribed', {
  restarts: 3,
  readers: 3,
  betweenMs: 2000,
})
