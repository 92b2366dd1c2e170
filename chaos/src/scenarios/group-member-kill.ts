import { isQuestlogError } from '@questlog/protocol'
import { createClient, type QuestlogClient } from '@questlog/sdk-node'
import { destroyPgServers, startPgServer, stopAll } from '@questlog/testkit'
import postgres from 'postgres'
import { check, readLog } from '../checker'
import type { Scenario, ScenarioContext } from '../scenario'
import { CHAOS_ADMIN_KEY, createTopic, sleep, startChaosBroker, waitUntil } from '../system'
import { PublishLoad } from '../workload'

const PARTITIONS = 8
const SESSION_TIMEOUT_MS = 3000
const GROUP = 'chaos-workers'
/** The first member leaves every HELD_EVERY-th event it receives un-acked: those it dies holding. */
const HELD_EVERY = 5

/** One member of the group: what it received (by event id), what the broker confirmed as acked. */
class Member {
  readonly bus: QuestlogClient
  readonly received = new Map<string, number[]>()
  readonly acked = new Set<string>()
  /** Acks sent, answered or not (one in flight when its broker dies never is). */
  readonly ackSent = new Set<string>()
  readonly held = new Set<string>()
  /** Partitions it received events from, and when it first did so for each. */
  readonly firstFrom = new Map<number, number>()
  ended: string | undefined
  private readonly sub: { close(): void }
  private readonly loop: Promise<void>
  private closing = false

  constructor(broker: string, topic: string, holdEvery: number) {
    this.bus = createClient({
      brokers: [broker],
      token: CHAOS_ADMIN_KEY,
      backoff: { initialMs: 50, maxMs: 500 },
      // kept to its broker: the kill ends this member, as a crashed worker's would
      routing: { discover: false },
    })
    const sub = this.bus.subscribe<{ id: string }>(topic, {
      group: GROUP,
      from: 'earliest',
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      credits: 500,
    })
    this.sub = sub
    let n = 0
    this.loop = (async () => {
      try {
        for await (const ev of sub) {
          const id = ev.data.id
          const at = performance.now()
          this.received.set(id, [...(this.received.get(id) ?? []), at])
          if (!this.firstFrom.has(ev.partition)) this.firstFrom.set(ev.partition, at)
          if (holdEvery > 0 && ++n % holdEvery === 0) {
            this.held.add(id)
            continue
          }
          this.ackSent.add(id)
          ev.ack().then(
            () => this.acked.add(id),
            () => {},
          )
        }
      } catch (e) {
        if (!this.closing) this.ended = isQuestlogError(e) ? `${e.code}: ${e.message}` : String(e)
      }
    })()
  }

  async close(): Promise<void> {
    this.closing = true
    this.sub.close()
    await Promise.race([this.loop, sleep(5000)])
    await this.bus.close()
  }
}

async function run(ctx: ScenarioContext): Promise<void> {
  const topic = 'chaos.group'
  try {
    const pg = await startPgServer()
    const fast = { QUESTLOG_HEARTBEAT_MS: '200', QUESTLOG_BROKER_DEAD_AFTER_MS: '1500' }
    const doomed = await startChaosBroker(pg.url, fast)
    const survivor = await startChaosBroker(pg.url, fast)
    await createTopic(survivor.url, topic, PARTITIONS)
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} })
    const a = new Member(doomed.url, topic, HELD_EVERY)
    const b = new Member(survivor.url, topic, 0)
    // both in the group, 4 and 4, before the load starts: every event then goes to one member
    const split = await (async () => {
      const deadline = performance.now() + 30_000
      while (performance.now() < deadline) {
        const rows = await sql`
          SELECT o.owner, count(*)::int AS n FROM ql_consumer_offsets o JOIN ql_topics t ON t.id = o.topic_id
          WHERE o.group_name = ${GROUP} AND t.name = ${topic} AND o.owner IS NOT NULL GROUP BY o.owner`
        if (rows.length === 2 && rows.every((r) => r.n === PARTITIONS / 2)) return true
        await sleep(100)
      }
      return false
    })()
    ctx.expect(split, 'the two members divide the partitions 4 and 4')
    const load = new PublishLoad({
      brokers: [survivor.url],
      token: CHAOS_ADMIN_KEY,
      topic,
      clients: 2,
      window: 8,
      keys: 64,
    })
    await waitUntil(() => load.ackedCount >= 1500 && a.received.size > 200, 60_000)
    // what the first member had acked, as the broker confirmed, the moment its broker dies
    const ackedBeforeKill = new Set([...a.acked, ...b.acked])
    const aPartitions = new Set(a.firstFrom.keys())
    const killedAt = performance.now()
    const exited = new Promise((r) => doomed.child.once('exit', r))
    doomed.child.kill('SIGKILL')
    await exited
    ctx.log(`killed the broker of member a (${a.received.size} received, ${a.held.size} held un-acked)`)
    await waitUntil(() => [...aPartitions].every((p) => (b.firstFrom.get(p) ?? 0) > killedAt), 60_000)
    const takeover = Math.max(...[...aPartitions].map((p) => (b.firstFrom.get(p) ?? Number.NaN) - killedAt))
    await sleep(3000)
    await load.stop(30_000)
    const entries = await readLog(survivor.url, CHAOS_ADMIN_KEY, topic, PARTITIONS)
    const c = check(load.log, entries)
    const stored = entries.map((e) => e.id)
    // every stored event gets an ack: from a before the kill, or from b
    const settled = () => stored.filter((id) => !a.ackSent.has(id) && !b.ackSent.has(id)).length
    await waitUntil(() => settled() === 0, 30_000)
    const neverAcked = settled()
    const unconfirmed = stored.filter(
      (id) => (a.ackSent.has(id) || b.ackSent.has(id)) && !a.acked.has(id) && !b.acked.has(id),
    ).length
    // and the group's stored position covers every event: the floor at the end, nothing un-acked
    await sleep(2000)
    const rows = await sql`
      SELECT o.partition, o.next_offset, cardinality(o.unacked) AS unacked FROM ql_consumer_offsets o
      JOIN ql_topics t ON t.id = o.topic_id WHERE o.group_name = ${GROUP} AND t.name = ${topic}`
    const ends = new Map<number, number>()
    for (const e of entries) ends.set(e.partition, Math.max(ends.get(e.partition) ?? 0, e.offset + 1))
    const behind = rows.filter(
      (r) => Number(r.next_offset) < (ends.get(Number(r.partition)) ?? 0) || Number(r.unacked) > 0,
    ).length
    const bothBeforeKill = [...a.received.keys()].filter((id) => {
      const times = b.received.get(id)
      return times?.some((t) => t < killedAt)
    }).length
    const againAfterAck = [...ackedBeforeKill].filter((id) =>
      [...(a.received.get(id) ?? []), ...(b.received.get(id) ?? [])].some((t) => t > killedAt),
    ).length
    const heldRedelivered = [...a.held].filter((id) =>
      (b.received.get(id) ?? []).some((t) => t > killedAt),
    ).length
    const heldGone = [...a.held].filter((id) => !b.acked.has(id)).length
    const twiceToB = [...b.received.values()].filter((t) => t.length > 1).length
    Object.assign(ctx.figures, {
      'events stored': stored.length,
      'lost (acked publishes)': c.lost,
      duplicated: c.duplicated,
      'offset gaps': c.gaps,
      'events received by both members before the kill': bothBeforeKill,
      'events a held un-acked at the kill': a.held.size,
      'of those, redelivered to b': heldRedelivered,
      'acked before the kill and delivered again': againAfterAck,
      'events delivered twice to b': twiceToB,
      'stored events the group never sent an ack for': neverAcked,
      'acks sent but not confirmed (in flight at the kill)': unconfirmed,
      'partitions whose stored position is short of the end': behind,
      'partitions moved after the kill (ms)': Math.round(takeover),
      'session timeout (ms)': SESSION_TIMEOUT_MS,
      'subscriptions ended': [a.ended, b.ended].filter((e) => e !== undefined && e !== null).length,
      'broker errors logged': survivor.errors.length,
    })
    ctx.expect(
      c.lost === 0 && c.duplicated === 0 && c.gaps === 0,
      'the log holds every acked publish once, gapless',
    )
    ctx.expect(bothBeforeKill === 0, 'while both live, each event goes to one member only')
    ctx.expect(againAfterAck === 0, 'nothing acked before the kill is delivered again')
    ctx.expect(
      heldGone === 0 && heldRedelivered === a.held.size,
      'every event the dead member held goes to b',
    )
    ctx.expect(neverAcked === 0, 'every stored event is acked by the group')
    ctx.expect(behind === 0, "the group's stored position covers every event at the end")
    ctx.expect(Number.isFinite(takeover), "b takes over all of a's partitions")
    ctx.expect(b.ended === undefined, `the survivor's subscription does not end (${b.ended ?? ''})`)
    await a.close()
    await b.close()
    await sql.end()
    await survivor.stop()
  } finally {
    await stopAll()
    await destroyPgServers()
  }
}

export const groupMemberKill: Scenario = {
  name: 'group-member-kill',
  title: `a consumer-group member killed before ack: two SDK members of one group on two brokers over 8 partitions, one leaving every ${HELD_EVERY}th event un-acked; kill -9 of its broker under load: the other takes its partitions over within the session timeout (${SESSION_TIMEOUT_MS} ms) and gets exactly the events nobody acked, none acked before the kill again`,
  run,
}
