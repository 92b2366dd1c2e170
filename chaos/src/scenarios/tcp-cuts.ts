import { destroyPgServers, startPgServer, stopAll } from '@questlog/testkit'
import { check, checkFigures, expectLogHolds, readLog } from '../checker'
import type { Scenario, ScenarioContext } from '../scenario'
import { CHAOS_ADMIN_KEY, createTopic, sleep, startChaosBroker, waitUntil } from '../system'
import { TcpProxy } from '../tcp-proxy'
import { LiveReaders, PublishLoad } from '../workload'

const PARTITIONS = 4
const TOPIC = 'chaos.tcp-cuts'
const CUTS = 8
const BETWEEN_MS = 1500

/**
 * SDK clients reach the broker through a TCP proxy that resets every connection through it,
 * again and again, while they publish and read: what reconnects and resends must not lose,
 * repeat or skip anything.
 */
export const tcpCuts: Scenario = {
  name: 'tcp-cuts',
  title: `TCP connections cut (reset on both sides) through a proxy, ${CUTS} times ${BETWEEN_MS / 1000} s apart, under SDK load with 3 live subscribers: nothing acked lost or stored twice, offsets gapless, every publish settles, every subscriber reads every event`,
  async run(ctx: ScenarioContext) {
    let proxy: TcpProxy | undefined
    try {
      const pg = await startPgServer()
      const broker = await startChaosBroker(pg.url)
      proxy = new TcpProxy(Number(new URL(broker.url).port))
      await proxy.start()
      await createTopic(broker.url, TOPIC, PARTITIONS)
      const readers = new LiveReaders([proxy.url], CHAOS_ADMIN_KEY, TOPIC, 3)
      const load = new PublishLoad({
        brokers: [proxy.url],
        token: CHAOS_ADMIN_KEY,
        topic: TOPIC,
        clients: 4,
        window: 8,
        keys: 32,
      })
      await waitUntil(() => load.ackedCount >= 500, 60_000)
      const cutsAt: number[] = []
      const resumed: number[] = []
      for (let i = 0; i < CUTS; i++) {
        const t = performance.now()
        const n = proxy.cutAll()
        cutsAt.push(t)
        const acked = load.ackedCount
        await waitUntil(() => load.ackedCount > acked + 100, 30_000)
        const first = load.log.firstAckStartedAfter(t)
        resumed.push(first === undefined ? -1 : Math.round(first))
        ctx.log(
          `cut ${i + 1}: ${n} connections reset; first publish started after it acked in ${resumed[i]} ms`,
        )
        await sleep(BETWEEN_MS)
      }
      await load.stop(60_000)
      const entries = await readLog(broker.url, CHAOS_ADMIN_KEY, TOPIC, PARTITIONS)
      const c = check(load.log, entries)
      const missing = await readers.waitFor(
        entries.map((e) => e.id),
        30_000,
      )
      await readers.close()
      const unsettled = [...load.log.started.keys()].filter((id) => !load.log.settled.has(id)).length
      Object.assign(ctx.figures, {
        'connections cut': proxy.cut,
        ...checkFigures(c),
        unsettled,
        'first publish started after a cut acked in (ms)': resumed.join(', '),
        'longest time without an ack after a cut (ms)': Math.round(
          Math.max(...cutsAt.map((t) => load.log.longestAckGap(t, t + BETWEEN_MS))),
        ),
        'subscriptions ended': readers.ended.filter(Boolean).length,
        'events a subscriber still lacked 30 s after the end': Math.max(0, ...missing),
        'broker errors logged': broker.errors.length,
      })
      expectLogHolds(ctx, c)
      ctx.expect(c.failed === 0 && unsettled === 0, 'every publish is stored')
      ctx.expect(
        resumed.every((ms) => ms >= 0),
        'publishing resumes after every cut',
      )
      ctx.expect(
        readers.ended.every((e) => e === undefined),
        `no subscription ends (${readers.ended.filter(Boolean).join('; ')})`,
      )
      ctx.expect(
        missing.every((m) => m === 0),
        'every subscriber receives every stored event',
      )
      await broker.stop()
    } finally {
      await proxy?.stop()
      await stopAll()
      await destroyPgServers()
    }
  },
}
