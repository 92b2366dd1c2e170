import { killTree, stopAll } from '@questlog/testkit'
import postgres from 'postgres'
import { check, checkFigures, expectLogHolds, readLog } from '../checker'
import { type Formation, hasPgAutoFailover, startFormation } from '../formation'
import type { Scenario, ScenarioContext } from '../scenario'
import { CHAOS_ADMIN_KEY, createTopic, sleep, startChaosBroker, waitUntil } from '../system'
import { PublishLoad } from '../workload'

const PARTITIONS = 4
const TOPIC = 'chaos.failover'

/**
 * kill -9 of the PostgreSQL primary (its pg_auto_failover keeper and every
 * PostgreSQL process of the node, by PID) while two brokers take SDK load.
 */
export const primaryKill: Scenario = {
  name: 'primary-kill',
  title:
    'kill -9 of the PostgreSQL primary under SDK load, two brokers on a multi-host URL: pg_auto_failover promotes the synchronous standby, brokers reconnect, no acked event lost, offsets gapless, publishing resumes',
  needsFailover: true,
  async run(ctx: ScenarioContext) {
    if (!hasPgAutoFailover())
      throw new Error('pg_autoctl is not installed (apt-get install postgresql-15-auto-failover)')
    let formation: Formation | undefined
    try {
      formation = await startFormation(ctx.log)
      const sync = await syncSettings(formation.url)
      const brokers = [await startChaosBroker(formation.url), await startChaosBroker(formation.url)]
      const urls = brokers.map((b) => b.url)
      await createTopic(urls[0]!, TOPIC, PARTITIONS)
      const load = new PublishLoad({
        brokers: urls,
        token: CHAOS_ADMIN_KEY,
        topic: TOPIC,
        clients: 4,
        window: 8,
        keys: 32,
      })
      await waitUntil(() => load.ackedCount >= 1000, 60_000)
      const old = (await formation.primary())!
      const fault = performance.now()
      const ackedBefore = load.ackedCount
      ctx.log(`kill -9 of the primary ${old.name} (keeper PID ${old.keeper.pid}) after ${ackedBefore} acks`)
      // the keeper would restart its PostgreSQL: the whole node goes, as a machine would
      await killTree(old.keeper.pid!)
      let promotedMs = -1
      const deadline = performance.now() + 90_000
      while (performance.now() < deadline) {
        const p = await formation.primary().catch(() => undefined)
        if (p && p.name !== old.name) {
          promotedMs = Math.round(performance.now() - fault)
          break
        }
        await sleep(200)
      }
      ctx.log(`standby promoted after ${promotedMs} ms`)
      await waitUntil(() => load.log.firstAckStartedAfter(fault) !== undefined, 60_000)
      await sleep(5000)
      await load.stop(60_000)
      const first = load.log.firstAckStartedAfter(fault)
      const entries = await readLog(urls[1]!, CHAOS_ADMIN_KEY, TOPIC, PARTITIONS)
      const c = check(load.log, entries)
      const alive = brokers.every((b) => b.child.exitCode === null && b.child.signalCode === null)
      Object.assign(ctx.figures, {
        'synchronous replication before the fault': `synchronous_standby_names '${sync.names}', synchronous_commit ${sync.commit}`,
        ...checkFigures(c),
        'acked before the fault': ackedBefore,
        'standby promoted after (ms)': promotedMs,
        'outage without acks (ms)': Math.round(load.log.longestAckGap(fault, load.stoppedAt)),
        'first publish started after the fault acked after (ms)':
          first === undefined ? -1 : Math.round(first),
        'publishes not settled within 30 s of the promotion': load.log.settledLaterThan(
          fault + promotedMs,
          30_000,
        ),
      })
      ctx.expect(
        sync.names !== '' && sync.commit === 'on',
        'a commit waits for the standby (acked means on both servers)',
      )
      ctx.expect(promotedMs >= 0, 'a standby is promoted')
      expectLogHolds(ctx, c)
      ctx.expect(first !== undefined, 'publishing resumes')
      ctx.expect(alive, 'the brokers stay up')
      for (const b of brokers) await b.stop()
    } finally {
      await stopAll()
      await formation?.destroy()
    }
  },
}

/** synchronous_standby_names and synchronous_commit on the primary, as the report prints them. */
async function syncSettings(url: string): Promise<{ names: string; commit: string }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const [row] =
      await sql`SELECT current_setting('synchronous_standby_names') AS names, current_setting('synchronous_commit') AS commit`
    return { names: String(row!.names), commit: String(row!.commit) }
  } finally {
    await sql.end()
  }
}
