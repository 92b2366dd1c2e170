import { isQuestlogError } from '@questlog/protocol'
import { createClient, type QuestlogClient } from '@questlog/sdk-node'
import { destroyPgServers, startPgServer, stopAll } from '@questlog/testkit'
import { check, readLog } from '../checker'
import type { Scenario, ScenarioContext } from '../scenario'
import { CHAOS_ADMIN_KEY, createTopic, sleep, startChaosBroker, waitUntil } from '../system'
import { PublishLoad } from '../workload'

const PARTITIONS = 4
const SUBSCRIPTION = 'chaos-queue'
const ACK_WAIT_MS = 3000
const MAX_DELIVERIES = 4

/** What a consumer does with an event, picked by its id so every consumer treats it alike. */
type Fate = 'ack' | 'nak-once' | 'late-ack' | 'poison'

function fate(id: string): Fate {
  let h = 0
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0
  const r = h % 100
  if (r < 2) return 'poison'
  if (r < 17) return 'nak-once'
  if (r < 32) return 'late-ack'
  return 'ack'
}

const auth = { authorization: `Bearer ${CHAOS_ADMIN_KEY}`, 'content-type': 'application/json' }

async function report(broker: string): Promise<{ pending: number; lag: number; deadLetters: number }> {
  const res = await fetch(`${broker}/v1/subscriptions/${SUBSCRIPTION}`, { headers: auth })
  return (await res.json()) as { pending: number; lag: number; deadLetters: number }
}

/** One consumer of the queue subscription; the tallies are shared by all of them. */
class Tally {
  /** Acks the broker confirmed, per event id. */
  readonly acked = new Map<string, number>()
  readonly deliveries = new Map<string, number>()
  /** Late acks (sent after the ack wait ran out), by the code they were answered with. */
  readonly lateAnswers = new Map<string, number>()
  readonly ended: string[] = []

  note(map: Map<string, number>, k: string): void {
    map.set(k, (map.get(k) ?? 0) + 1)
  }
}

function consume(broker: string, topic: string, tally: Tally, closing: () => boolean) {
  const bus: QuestlogClient = createClient({
    brokers: [broker],
    token: CHAOS_ADMIN_KEY,
    backoff: { initialMs: 50, maxMs: 500 },
  })
  const sub = bus.subscribe<{ id: string }>(topic, { subscription: SUBSCRIPTION, credits: 100 })
  const loop = (async () => {
    try {
      for await (const ev of sub) {
        const id = ev.data.id
        tally.note(tally.deliveries, id)
        const f = fate(id)
        if (f === 'poison' || (f === 'nak-once' && ev.redelivery === 0)) {
          ev.nak(0)
          continue
        }
        if (f === 'late-ack' && ev.redelivery === 0) {
          // held past the ack wait: the event is redelivered meanwhile, this ack must be refused
          setTimeout(() => {
            ev.ack().then(
              () => tally.note(tally.lateAnswers, 'ok'),
              (e: unknown) => tally.note(tally.lateAnswers, isQuestlogError(e) ? e.code : String(e)),
            )
          }, ACK_WAIT_MS + 1000)
          continue
        }
        ev.ack().then(
          () => tally.note(tally.acked, id),
          () => {},
        )
      }
    } catch (e) {
      if (!closing()) tally.ended.push(isQuestlogError(e) ? `${e.code}: ${e.message}` : String(e))
    }
  })()
  return {
    async close() {
      sub.close()
      await Promise.race([loop, sleep(5000)])
      await bus.close()
    },
  }
}

async function run(ctx: ScenarioContext): Promise<void> {
  const topic = 'chaos.queue'
  let closing = false
  try {
    const pg = await startPgServer()
    const b0 = await startChaosBroker(pg.url)
    const b1 = await startChaosBroker(pg.url)
    await createTopic(b0.url, topic, PARTITIONS)
    const created = await fetch(`${b0.url}/v1/subscriptions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        name: SUBSCRIPTION,
        topic,
        mode: 'queue',
        from: 'earliest',
        ackWaitMs: ACK_WAIT_MS,
        maxDeliveries: MAX_DELIVERIES,
        backoffMs: [100],
      }),
    })
    if (created.status !== 201)
      throw new Error(`create subscription: ${created.status} ${await created.text()}`)
    const tally = new Tally()
    const consumers = [b0.url, b0.url, b1.url].map((url) => consume(url, topic, tally, () => closing))
    const load = new PublishLoad({
      brokers: [b0.url, b1.url],
      token: CHAOS_ADMIN_KEY,
      topic,
      clients: 2,
      window: 4,
      keys: 32,
    })
    await waitUntil(() => load.ackedCount >= 1500, 20_000)
    await load.stop(30_000)
    const entries = await readLog(b0.url, CHAOS_ADMIN_KEY, topic, PARTITIONS)
    const c = check(load.log, entries)
    const stored = entries.map((e) => e.id)
    const poison = stored.filter((id) => fate(id) === 'poison')
    const unsettled = () => stored.filter((id) => fate(id) !== 'poison' && !tally.acked.has(id)).length
    await waitUntil(() => unsettled() === 0, 60_000)
    // the poison events run out of deliveries; the late acks are answered
    const late = stored.filter((id) => fate(id) === 'late-ack').length
    const answered = () => [...tally.lateAnswers.values()].reduce((a, b) => a + b, 0)
    const deadline = performance.now() + 30_000
    let r = await report(b0.url)
    while (
      performance.now() < deadline &&
      (r.pending > 0 || r.deadLetters < poison.length || answered() < late)
    ) {
      await sleep(200)
      r = await report(b0.url)
    }
    const ackedTwice = [...tally.acked.values()].filter((n) => n > 1).length
    const lateRefused = tally.lateAnswers.get('attempt_expired') ?? 0
    const lateOther = [...tally.lateAnswers].filter(([k]) => k !== 'attempt_expired')
    const nakOnce = stored.filter((id) => fate(id) === 'nak-once')
    Object.assign(ctx.figures, {
      'events stored': stored.length,
      'lost (acked publishes)': c.lost,
      duplicated: c.duplicated,
      'offset gaps': c.gaps,
      'events acked by a consumer': tally.acked.size,
      'events acked twice': ackedTwice,
      'events never settled': unsettled(),
      'nak-ed once, then acked': nakOnce.filter((id) => tally.acked.has(id)).length + ` of ${nakOnce.length}`,
      'held past the ack wait, then acked on redelivery': `${stored.filter((id) => fate(id) === 'late-ack' && tally.acked.has(id)).length} of ${late}`,
      'late acks answered attempt_expired': `${lateRefused} of ${late}`,
      'late acks answered otherwise': lateOther.map(([k, n]) => `${k} ${n}`).join(', ') || 'none',
      'poison events dead-lettered': `${r.deadLetters} of ${poison.length}`,
      'deliveries per poison event': [...new Set(poison.map((id) => tally.deliveries.get(id) ?? 0))].join(
        ', ',
      ),
      'pending at the end': r.pending,
      'subscriptions ended': tally.ended.length,
      'broker errors logged': b0.errors.length + b1.errors.length,
    })
    ctx.expect(
      c.lost === 0 && c.duplicated === 0 && c.gaps === 0,
      'the log holds every acked publish once, gapless',
    )
    ctx.expect(unsettled() === 0, 'every event but the poison ones is acked')
    ctx.expect(ackedTwice === 0, 'no event is acked twice (a late ack never settles a redelivery)')
    ctx.expect(lateRefused === late && lateOther.length === 0, 'every late ack is answered attempt_expired')
    ctx.expect(r.deadLetters === poison.length, 'every poison event is dead-lettered')
    ctx.expect(r.pending === 0, 'nothing stays pending')
    ctx.expect(tally.ended.length === 0, `no subscription ends (${tally.ended.join('; ')})`)
    closing = true
    await Promise.all(consumers.map((k) => k.close()))
    await b0.stop()
    await b1.stop()
  } finally {
    closing = true
    await stopAll()
    await destroyPgServers()
  }
}

export const queueSettlements: Scenario = {
  name: 'queue-settlements',
  title: `queue mode with naks, ack-wait expiries and late acks: three SDK consumers on two brokers under publish load; 15% of events nak-ed once, 15% held past the ${ACK_WAIT_MS} ms ack wait and acked late, 2% nak-ed until dead (maxDeliveries ${MAX_DELIVERIES}): every other event acked once, every late ack refused with attempt_expired, every poison event dead-lettered, nothing left pending`,
  run,
}
