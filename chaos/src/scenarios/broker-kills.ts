import type { QuestlogClient } from '@questlog/sdk-node'
import { destroyPgServers, startPgServer, stopAll } from '@questlog/testkit'
import { check, checkFigures, expectLogHolds, readLog } from '../checker'
import type { Scenario, ScenarioContext } from '../scenario'
import { CHAOS_ADMIN_KEY, type ChaosBroker, createTopic, sleep, startChaosBroker, waitUntil } from '../system'
import { LiveReaders, PublishLoad } from '../workload'

const PARTITIONS = 4
const TOPIC = 'chaos.broker-kills'
const ROUNDS = 3
/** A client on a killed broker must be open on another within this. */
const MOVE_MS = 2000
/** Quick heartbeats, as an operator running several brokers would set them. */
const CLUSTER_ENV = { QUESTLOG_HEARTBEAT_MS: '250', QUESTLOG_BROKER_DEAD_AFTER_MS: '2000' }

/**
 * kill -9 of one of three brokers on one PostgreSQL under SDK load, again and again: each time the
 * broker holding the most clients dies, its clients move (the SDKs route by health), and a new
 * broker takes its port before the next round, as a supervisor would restart it.
 */
export const brokerKills: Scenario = {
  name: 'broker-kills',
  title: `kill -9 of one of three brokers under SDK load, ${ROUNDS} times (the busiest each time, restarted on its port before the next): every client on it is open on another broker within 2 s, the subscriptions read every event, nothing acked is lost or stored twice, offsets gapless`,
  async run(ctx: ScenarioContext) {
    try {
      const pg = await startPgServer()
      const brokers: ChaosBroker[] = [await startChaosBroker(pg.url, CLUSTER_ENV)]
      brokers.push(...(await Promise.all([1, 2].map(() => startChaosBroker(pg.url, CLUSTER_ENV)))))
      const urls = brokers.map((b) => b.url)
      await createTopic(urls[0]!, TOPIC, PARTITIONS)
      const readers = new LiveReaders(urls, CHAOS_ADMIN_KEY, TOPIC, 3)
      const load = new PublishLoad({
        brokers: urls,
        token: CHAOS_ADMIN_KEY,
        topic: TOPIC,
        clients: 6,
        window: 8,
        keys: 32,
      })
      const everyone = [...load.clients, ...readers.clients]
      await waitUntil(() => load.ackedCount >= 1000, 60_000)
      const moves: number[] = []
      const recoveries: number[] = []
      const late: string[] = []
      for (let round = 0; round < ROUNDS; round++) {
        const on = (c: QuestlogClient) => {
          const s = c.currentStatus()
          return s.state === 'open' ? s.url : undefined
        }
        // the broker most clients are on
        const counts = brokers.map(
          (b) => everyone.filter((c) => on(c)?.startsWith(`${b.url.replace('http', 'ws')}/`)).length,
        )
        const victim = counts.indexOf(Math.max(...counts))
        const dead = brokers[victim]!
        const wsUrl = `${dead.url.replace('http', 'ws')}/`
        const onIt = everyone.filter((c) => on(c)?.startsWith(wsUrl))
        const fault = performance.now()
        dead.child.kill('SIGKILL')
        await new Promise<void>((r) =>
          dead.child.exitCode !== null || dead.child.signalCode !== null
            ? r()
            : dead.child.once('exit', () => r()),
        )
        const movedAt = await Promise.all(
          onIt.map(async (c) => {
            const ok = await waitUntil(() => {
              const u = on(c)
              return u !== undefined && !u.startsWith(wsUrl)
            }, 30_000)
            return ok ? performance.now() - fault : Number.POSITIVE_INFINITY
          }),
        )
        const slowest = Math.round(Math.max(0, ...movedAt))
        moves.push(slowest)
        if (slowest > MOVE_MS) late.push(`round ${round + 1}: ${slowest} ms`)
        const acked = load.ackedCount
        await waitUntil(() => load.ackedCount > acked + 500, 30_000)
        const first = load.log.firstAckStartedAfter(fault)
        recoveries.push(first === undefined ? -1 : Math.round(first))
        ctx.log(
          `round ${round + 1}: killed the broker on port ${new URL(dead.url).port} (${onIt.length} clients on it); the slowest was open elsewhere after ${slowest} ms; first publish started after the kill acked in ${recoveries[round]} ms`,
        )
        // a supervisor restarts it, on its port: the clients' list of URLs stays true
        brokers[victim] = await startChaosBroker(pg.url, CLUSTER_ENV, Number(new URL(dead.url).port))
        await sleep(3000)
      }
      await load.stop(60_000)
      const entries = await readLog(brokers[0]!.url, CHAOS_ADMIN_KEY, TOPIC, PARTITIONS)
      const c = check(load.log, entries)
      const missing = await readers.waitFor(
        entries.map((e) => e.id),
        30_000,
      )
      // where a reader that lacks events stands: which broker, which position, against the log's ends
      missing.forEach((m, i) => {
        if (m === 0) return
        const c = readers.clients[i]!
        const ends = Array.from(
          { length: PARTITIONS },
          (_, p) => entries.filter((e) => e.partition === p).length,
        )
        const got = Array.from(
          { length: PARTITIONS },
          (_, p) => entries.filter((e) => e.partition === p && readers.received[i]!.has(e.id)).length,
        )
        const holes = Array.from({ length: PARTITIONS }, (_, p) => {
          const part = entries.filter((e) => e.partition === p).sort((x, y) => x.offset - y.offset)
          const firstMissing = part.find((e) => !readers.received[i]!.has(e.id))?.offset
          const after = part.filter(
            (e) => firstMissing !== undefined && e.offset > firstMissing && readers.received[i]!.has(e.id),
          ).length
          return `p${p}: first missing ${firstMissing}, ${after} read after it`
        })
        ctx.log(
          `reader ${i} lacks ${m}: status ${JSON.stringify(c.currentStatus())}, read per partition ${got.join('/')} of ${ends.join('/')}; ${holes.join('; ')}`,
        )
      })
      await readers.close()
      Object.assign(ctx.figures, {
        'brokers killed': ROUNDS,
        ...checkFigures(c),
        'slowest client open on another broker, per kill (ms)': moves.join(', '),
        'first publish started after the kill acked in, per kill (ms)': recoveries.join(', '),
        'subscriptions ended': readers.ended.filter(Boolean).length,
        'events a subscriber still lacked 30 s after the end': Math.max(0, ...missing),
        'broker errors logged': brokers.reduce((n, b) => n + b.errors.length, 0),
      })
      ctx.expect(late.length === 0, `every client on a killed broker moves within 2 s (${late.join('; ')})`)
      expectLogHolds(ctx, c)
      ctx.expect(c.failed === 0, 'no publish fails')
      ctx.expect(
        recoveries.every((ms) => ms >= 0),
        'publishing resumes after every kill',
      )
      ctx.expect(
        readers.ended.every((e) => e === undefined),
        `no subscription ends (${readers.ended.filter(Boolean).join('; ')})`,
      )
      ctx.expect(
        missing.every((m) => m === 0),
        'every subscriber receives every stored event',
      )
      for (const b of brokers) await b.stop()
    } finally {
      await stopAll()
      await destroyPgServers()
    }
  },
}
