import {
  isQuestlogError,
  NotFoundError,
  newEventId,
  type PublishEvent,
  type SchedulePublish,
} from '@questlog/protocol'
import type { Logger } from 'pino'
import { BROKER, type Principal } from '../auth/principal'
import type { PayloadCrypto } from '../crypto/payload-crypto'
import type { PublishPipeline } from '../publish/pipeline'
import type { Sql } from '../storage/db'
import type { TopicService } from '../topics/topic-service'

export interface ScheduledEvent {
  id: string
  topic: string
  deliverAt: string
  event: PublishEvent
}

export const scheduledNotFound = (id: string) =>
  new NotFoundError(`no scheduled event '${id}' (already delivered, cancelled, or never scheduled)`, { id })

const MAX_SLEEP_MS = 1000
const BATCH = 500

interface ScheduledRow {
  id: string
  topic_id: number
  event: string
  sealed: Buffer | null
  enc_key: string | null
}

/** The event and its payload kept apart: the payload is what an encrypted topic seals. */
function splitPayload(event: PublishEvent): { rest: PublishEvent; payload: Buffer } {
  const { data, dataBase64, ...rest } = event
  const payload = dataBase64 === undefined ? { data } : { dataBase64 }
  return { rest: rest as PublishEvent, payload: Buffer.from(JSON.stringify(payload)) }
}

/**
 * Scheduled delivery: the event is stored at once and written to the log when
 * due, so subscribers see it at its time. Any broker may write a due event:
 * it claims due rows for the lease time (SKIP LOCKED keeps two brokers' claims
 * apart), writes them and deletes them; a claim that lapses goes to another
 * broker, and the event's dedupe key (`scheduled-<id>`) makes a write repeated
 * within the topic's dedupe window one event.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private busy: Promise<void> | undefined

  constructor(
    private readonly sql: Sql,
    private readonly topics: TopicService,
    private readonly pipeline: PublishPipeline,
    private readonly crypto: PayloadCrypto,
    private readonly log: Logger,
    /**
     * Who claims due rows (this broker's id) and for how long (the lease time): the rows of a
     * broker that died, stalled or lost its network go to another once its claim lapses.
     */
    private readonly claim: { by: string; ms: number } = { by: 'broker', ms: 5000 },
  ) {}

  /**
   * A waiting event as it will be written: its sealed payload opened, or `null` when its key
   * was erased (crypto-shredded) meanwhile.
   */
  private async opened(r: ScheduledRow): Promise<PublishEvent | null> {
    const event = JSON.parse(r.event) as PublishEvent
    if (r.sealed === null || r.enc_key === null) return event
    const opened = await this.crypto.openScheduled(r.topic_id, event.key ?? null, r.id, {
      data: r.sealed,
      encKey: r.enc_key,
    })
    if ('state' in opened) {
      if (opened.state === 'erased') return null
      throw new Error(
        `scheduled event '${r.id}' is sealed with a key this broker does not have (${r.enc_key})`,
      )
    }
    return { ...event, ...(JSON.parse(opened.data.toString('utf8')) as Partial<PublishEvent>) }
  }

  start(): void {
    void this.sealWaiting().catch((err) => this.log.warn({ err }, 'sealing waiting scheduled events failed'))
    this.arm(0)
  }

  /** Seals payloads that wait in the clear on topics that encrypt (scheduled before they did, or before sealing existed). */
  private async sealWaiting(): Promise<void> {
    const rows = await this.sql`
      SELECT s.id, t.name AS topic, s.event::text AS event FROM ql_scheduled s JOIN ql_topics t ON t.id = s.topic_id
      WHERE s.sealed IS NULL AND t.encryption <> 'none'`
    for (const r of rows) {
      const topic = await this.topics.get(r.topic as string)
      const { rest, payload } = splitPayload(JSON.parse(r.event as string) as PublishEvent)
      const sealed = await this.crypto.sealScheduled(topic, rest.key ?? null, r.id as string, payload)
      if (!sealed) continue
      await this.sql`UPDATE ql_scheduled SET event = ${JSON.stringify(rest)}::jsonb, sealed = ${sealed.data},
                     enc_key = ${sealed.encKey} WHERE id = ${r.id as string} AND sealed IS NULL`
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.busy?.catch(() => {})
  }

  private arm(ms: number): void {
    if (this.stopped) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.busy = this.tick()
        .catch((err) => this.log.warn({ err }, 'scheduled delivery round failed'))
        .then(async () => {
          const [next] = await this.sql`SELECT min(deliver_at) AS at FROM ql_scheduled`.catch(() => [])
          const due = next?.at ? new Date(next.at as string).getTime() - Date.now() : MAX_SLEEP_MS
          this.arm(Math.max(0, Math.min(MAX_SLEEP_MS, due)))
        })
    }, ms)
    this.timer.unref()
  }

  async schedule(topicName: string, req: SchedulePublish, principal: Principal): Promise<ScheduledEvent> {
    // checked and charged now, so a bad or over-limit event fails at once instead of at its time
    const { topic } = await this.pipeline.admit({
      door: 'http',
      topic: topicName,
      principal,
      events: [req.event],
      batch: false,
    })
    const id = req.event.id ?? newEventId()
    const deliverAt = req.deliverAt ? new Date(req.deliverAt) : new Date(Date.now() + (req.delayMs ?? 0))
    const event = { ...req.event, id }
    // on an encrypted topic the payload waits sealed, under the key that will seal it in the log
    const { rest, payload } = splitPayload(event)
    const sealed = await this.crypto.sealScheduled(topic, event.key ?? null, id, payload)
    await this.sql`INSERT INTO ql_scheduled (id, topic_id, deliver_at, event, sealed, enc_key)
                   VALUES (${id}, ${topic.id}, ${deliverAt.toISOString()}::timestamptz,
                           ${JSON.stringify(sealed ? rest : event)}::jsonb, ${sealed?.data ?? null}, ${sealed?.encKey ?? null})`
    if (deliverAt.getTime() - Date.now() < MAX_SLEEP_MS)
      this.arm(Math.max(0, deliverAt.getTime() - Date.now()))
    return { id, topic: topic.name, deliverAt: deliverAt.toISOString(), event }
  }

  /** The topic of a scheduled event, if it is still waiting. */
  async topicOf(id: string): Promise<string | undefined> {
    const [row] = await this
      .sql`SELECT t.name FROM ql_scheduled s JOIN ql_topics t ON t.id = s.topic_id WHERE s.id = ${id}`
    return row?.name as string | undefined
  }

  async cancel(id: string): Promise<void> {
    const rows = await this.sql`DELETE FROM ql_scheduled WHERE id = ${id} RETURNING id`
    if (rows.length === 0) throw scheduledNotFound(id)
  }

  async list(topicName?: string): Promise<ScheduledEvent[]> {
    const rows = await this.sql`
      SELECT s.id, s.topic_id, t.name AS topic, s.deliver_at, s.event::text AS event, s.sealed, s.enc_key
      FROM ql_scheduled s JOIN ql_topics t ON t.id = s.topic_id
      ${topicName === undefined ? this.sql`` : this.sql`WHERE t.name = ${topicName}`}
      ORDER BY s.deliver_at LIMIT 1000`
    const out: ScheduledEvent[] = []
    for (const r of rows) {
      const row = r as unknown as ScheduledRow
      let event = await this.opened(row).catch(() => undefined)
      if (!event) {
        // a payload nobody can open any more is shown as the log shows one
        const rest = JSON.parse(row.event) as PublishEvent
        const state = event === null ? 'erased' : 'key-missing'
        event = { ...rest, data: null, headers: { ...rest.headers, 'ql-encryption': state } }
      }
      out.push({
        id: row.id,
        topic: r.topic as string,
        deliverAt: new Date(r.deliver_at as string).toISOString(),
        event,
      })
    }
    return out
  }

  /**
   * Writes every due event to its topic's log, through the publish pipeline
   * as the broker (authorized and charged when it was scheduled). An event the
   * pipeline refuses for good (the topic's schema changed, the topic is gone)
   * is dropped with a warning instead of holding back the events due after it.
   */
  async tick(): Promise<number> {
    let written = 0
    for (;;) {
      const t0 = performance.now()
      // a claim lasts the lease time: rows of a broker that died or stalled go to another then,
      // with nothing held open meanwhile (a claim is one statement, not a transaction)
      const due = await this.sql`
        UPDATE ql_scheduled s SET claimed_by = ${this.claim.by},
               claimed_until = now() + make_interval(secs => ${this.claim.ms / 1000})
        FROM ql_topics t
        WHERE t.id = s.topic_id AND s.id IN (
          SELECT id FROM ql_scheduled
          WHERE deliver_at <= now() AND (claimed_until IS NULL OR claimed_until <= now())
          ORDER BY deliver_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
        RETURNING s.id, s.topic_id, t.name AS topic, s.event::text AS event, s.sealed, s.enc_key, s.deliver_at`
      const rows = [...due].sort(
        (a, b) => +new Date(a.deliver_at as string) - +new Date(b.deliver_at as string),
      )
      const settled: string[] = []
      try {
        for (const r of rows) {
          // past its claim another broker may write the rest: leave them (the dedupe key covers a race)
          if (performance.now() - t0 > this.claim.ms * 0.8) break
          const event = await this.opened(r as unknown as ScheduledRow)
          if (event === null) {
            // its player was erased before it fell due: dropped, as nothing of it can be read
            this.log.info({ id: r.id, topic: r.topic }, 'scheduled event dropped: its data key was erased')
            settled.push(r.id as string)
            continue
          }
          try {
            await this.pipeline.publish({
              door: 'scheduled',
              topic: r.topic as string,
              principal: BROKER,
              events: [{ ...event, dedupeKey: event.dedupeKey ?? `scheduled-${r.id}` }],
              batch: false,
            })
          } catch (err) {
            if (!isQuestlogError(err) || err.retryable) throw err
            this.log.warn(
              { err, id: r.id, topic: r.topic },
              'a scheduled event was refused when due; dropped',
            )
          }
          settled.push(r.id as string)
        }
      } finally {
        if (settled.length > 0) await this.sql`DELETE FROM ql_scheduled WHERE id = ANY(${settled}::text[])`
        const left = rows.map((r) => r.id as string).filter((id) => !settled.includes(id))
        // what this round did not write is free again at once
        if (left.length > 0)
          await this.sql`UPDATE ql_scheduled SET claimed_until = NULL
                         WHERE id = ANY(${left}::text[]) AND claimed_by = ${this.claim.by}`
      }
      written += settled.length
      if (rows.length < BATCH) return written
    }
  }
}
