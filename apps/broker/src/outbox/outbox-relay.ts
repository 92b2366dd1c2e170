import { isQuestlogError, isRetryable, publishEventSchema, validationErrorFromZod } from '@questlog/protocol'
import type { Logger } from 'pino'
import { BROKER } from '../auth/principal'
import type { PublishPipeline } from '../publish/pipeline'
import type { WireEvent } from '../publish/validate'
import { createSql, type Sql } from '../storage/db'

export interface OutboxRelayOptions {
  /** The application's database, holding `questlog_outbox` (the Node SDK's migration). */
  url: string
  pipeline: PublishPipeline
  /** Whether this broker is the cluster's relay now (the holder of its lease). */
  leads: () => boolean
  log: Logger
  /** How often the outbox is looked at when no notification came (a lost one costs this much latency). */
  pollMs?: number
  /** Rows relayed per round. */
  batch?: number
}

interface OutboxRow {
  id: string
  topic: string
  key: string | null
  partition: number | null
  type: string | null
  dedupe_key: string | null
  headers: Record<string, string> | null
  data: string
}

/** The outbox's notification channel (the migration's commit trigger sends on it). */
const CHANNEL = 'questlog_outbox'

/**
 * Relays the rows the application's committed transactions left in its outbox table into the
 * log, through the publish pipeline like any other publish, in commit order (`seq`, see the
 * SDK's migration), then deletes them. Each event goes under the dedupe key `outbox:<row id>`
 * (or the row's own): a relay that dies between the log's commit and the delete — this broker
 * killed, its lease taken over — sends the rows again and the log answers them as duplicates,
 * so each is stored once. One run of a topic's consecutive rows is one publish, and the next
 * is sent only once it is stored, so commit order holds per key and across topics.
 */
export class OutboxRelay {
  private readonly sql: Sql
  private stopped = false
  private wake: (() => void) | undefined
  private loop: Promise<void> | undefined
  private unlisten: (() => Promise<void>) | undefined

  constructor(private readonly o: OutboxRelayOptions) {
    this.sql = createSql(o.url, 2, { applicationName: 'questlog-outbox-relay' })
  }

  start(): void {
    this.loop = this.run()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.wake?.()
    await this.loop
    await this.unlisten?.().catch(() => {})
    await this.sql.end({ timeout: 2 })
  }

  private async run(): Promise<void> {
    let failures = 0
    while (!this.stopped) {
      let relayed = 0
      if (this.o.leads()) {
        try {
          await this.listen()
          relayed = await this.relayOnce()
          failures = 0
        } catch (err) {
          failures++
          this.o.log.warn({ err }, 'outbox relay round failed; trying again')
        }
      }
      if (relayed === 0 && !this.stopped) {
        const ms = failures > 0 ? Math.min(5000, 100 * 2 ** failures) : (this.o.pollMs ?? 1000)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms)
          this.wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        this.wake = undefined
      }
    }
  }

  private async listen(): Promise<void> {
    if (this.unlisten) return
    const sub = await this.sql.listen(CHANNEL, () => this.wake?.())
    this.unlisten = () => sub.unlisten()
  }

  /** Relays one batch of committed rows in commit order; returns how many it handled. */
  async relayOnce(): Promise<number> {
    const rows = (await this.sql`
      SELECT o.id::text AS id, topic, key, partition, type, dedupe_key, headers, data
      FROM questlog_outbox o WHERE o.seq IS NOT NULL AND o.error IS NULL
      ORDER BY o.seq LIMIT ${this.o.batch ?? 500}`) as unknown as OutboxRow[]
    let i = 0
    while (i < rows.length) {
      if (this.stopped || !this.o.leads()) break
      let j = i + 1
      while (j < rows.length && rows[j]!.topic === rows[i]!.topic) j++
      await this.relayRun(rows.slice(i, j))
      i = j
    }
    return i
  }

  /** One topic's consecutive rows: published as one batch, then deleted. */
  private async relayRun(run: OutboxRow[]): Promise<void> {
    const failed = new Map<string, string>()
    const events: WireEvent[] = []
    const sent: OutboxRow[] = []
    for (const row of run) {
      const event = eventOf(row)
      if (typeof event === 'string') failed.set(row.id, event)
      else {
        events.push(event)
        sent.push(row)
      }
    }
    if (events.length > 0) {
      try {
        await this.publish(run[0]!.topic, events)
      } catch (e) {
        if (!isQuestlogError(e) || isRetryable(e.code)) throw e
        // one bad row refuses the batch: each goes alone, so only the bad ones stay behind
        for (const [k, event] of events.entries()) {
          try {
            await this.publish(run[0]!.topic, [event])
          } catch (one) {
            if (!isQuestlogError(one) || isRetryable(one.code)) throw one
            failed.set(sent[k]!.id, `${one.code}: ${one.message}`)
          }
        }
      }
    }
    for (const [id, error] of failed) {
      this.o.log.warn(
        { outboxId: id, error },
        'outbox row cannot be published; left in the outbox with its error',
      )
      await this.sql`UPDATE questlog_outbox SET error = ${error} WHERE id = ${id}::bigint`
    }
    const done = run.filter((r) => !failed.has(r.id)).map((r) => r.id)
    if (done.length > 0) await this.sql`DELETE FROM questlog_outbox WHERE id = ANY(${done}::bigint[])`
  }

  private async publish(topic: string, events: WireEvent[]): Promise<void> {
    await this.o.pipeline.publish({ door: 'outbox', topic, principal: BROKER, events, batch: true })
  }
}

/** The row as a publish event, checked like any publish body; a string says what is wrong with it. */
function eventOf(row: OutboxRow): WireEvent | string {
  let data: unknown
  try {
    data = JSON.parse(row.data)
  } catch {
    return 'validation_error: data is not JSON'
  }
  const parsed = publishEventSchema.safeParse({
    data,
    dedupeKey: row.dedupe_key ?? `outbox:${row.id}`,
    ...(row.key !== null && { key: row.key }),
    ...(row.partition !== null && { partition: row.partition }),
    ...(row.type !== null && { type: row.type }),
    ...(row.headers !== null && { headers: row.headers }),
  })
  if (!parsed.success) {
    const error = validationErrorFromZod(parsed.error)
    return `${error.code}: ${error.message}`
  }
  return { ...parsed.data, dataJson: row.data }
}
