import { randomUUID } from 'node:crypto'
import { isQuestlogError } from '@questlog/protocol'
import type { Logger } from 'pino'
import type { LeasedWork, RunEnd, WorkClaimer } from '../cluster/leased-work'
import { isLeaseLost, type Lease } from '../cluster/leases'
import { envelopeJson } from '../read/envelope-json'
import type { Sql, TransactionSql } from '../storage/db'
import { readAt } from '../storage/event-store'
import type { Delivery } from './delivery'
import type { DeliveryService } from './delivery-service'
import type { OutboundGuard } from './outbound-guard'
import type { Subscription } from './subscriptions'
import { decodeToken, encodeToken } from './tokens'
import { WebhookClient } from './webhook-request'

export type BreakerState = 'closed' | 'open' | 'half_open'

export interface WebhookState {
  breaker: BreakerState
  consecutiveFailures: number
  /** How many times the breaker has opened since this broker started. */
  opened: number
  delivered: number
}

export interface WebhookAttempt {
  at: string
  events: number
  statusCode: number | null
  durationMs: number
  error: string | null
}

const IDLE_MS = 200

/** The consumer-group member a webhook subscription's pusher pulls as, on whichever broker it runs. */
export const WEBHOOK_MEMBER = 'webhook'

/** The batch a pusher sent and has not seen taken, as stored on its subscription's row. */
interface BatchInFlight {
  key: string
  events: Array<[topicId: number, partition: number, offset: number]>
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })

/**
 * Pushes one webhook subscription's events to its endpoint, on the one broker holding the
 * subscription's lease (`webhook:<id>`). It pulls as the subscription's consumer group's member
 * `webhook`, so each partition's events arrive in order. Every request carries an
 * `Idempotency-Key`; the batch in flight is stored with it before the first attempt, and a
 * pusher that takes over from a dead one first sends exactly that batch again under the same
 * key: a receiver that remembers keys sees each event once. A batch is retried until the
 * endpoint takes it; consecutive failures open the circuit breaker, which half-opens after
 * `openMs` for one trial request. Its commits are fenced by the lease, so a pusher that stalled
 * past its lease commits nothing.
 */
class WebhookPusher {
  readonly state: WebhookState = { breaker: 'closed', consecutiveFailures: 0, opened: 0, delivered: 0 }
  private openedAt = 0
  readonly done: Promise<RunEnd>

  constructor(
    private readonly sql: Sql,
    private readonly delivery: DeliveryService,
    private readonly client: WebhookClient,
    private readonly subscriptionName: string,
    private readonly lease: Lease,
    private readonly log: Logger,
  ) {
    this.done = this.loop()
  }

  private fenced<T>(write: (tx: TransactionSql) => Promise<T>): Promise<T> {
    return this.sql.begin(async (tx) => {
      await this.lease.fence(tx)
      return write(tx)
    }) as Promise<T>
  }

  private async loop(): Promise<RunEnd> {
    let resend = true
    while (this.lease.held()) {
      const sub = await this.delivery.subs.find(this.subscriptionName)
      if (!sub?.webhook) return 'done'
      if (this.state.breaker === 'open') {
        const wait = this.openedAt + sub.webhook.openMs - Date.now()
        if (wait > 0) {
          await this.delivery.group.heartbeat(sub, WEBHOOK_MEMBER)
          await sleep(Math.min(wait, IDLE_MS * 5), this.lease.signal)
          continue
        }
        this.state.breaker = 'half_open'
      }
      // a batch a dead pusher left in flight goes first, exactly as it was, under its key
      const left = resend ? await this.inFlight(sub) : undefined
      resend = false
      let batch: Delivery[]
      let key: string
      if (left) {
        ;({ batch, key } = left)
        await this.delivery.group.heartbeat(sub, WEBHOOK_MEMBER)
      } else {
        const max = this.state.breaker === 'half_open' ? 1 : sub.webhook.batchSize
        batch = await this.delivery.group.pull(sub, WEBHOOK_MEMBER, max)
        this.delivery.observe(sub.name, batch)
        if (batch.length === 0) {
          await sleep(IDLE_MS, this.lease.signal)
          continue
        }
        key = randomUUID()
        const stored: BatchInFlight = {
          key,
          events: batch.map((d) => {
            const t = decodeToken(d.token, 'token')
            return [t.topicId, t.partition, t.offset]
          }),
        }
        await this.fenced(
          (tx) => tx`UPDATE ql_subscriptions SET webhook_batch = ${JSON.stringify(stored)}::jsonb
                                     WHERE id = ${sub.id}`,
        )
      }
      const started = Date.now()
      if (await this.send(sub, batch, key)) {
        await this.fenced(async (tx) => {
          await this.delivery.group
            .ack(
              sub,
              batch.map((d) => d.token),
              tx,
            )
            .catch((e) => {
              // the subscription was reset meanwhile: its new positions say what comes next
              if (!isQuestlogError(e)) throw e
            })
          await tx`UPDATE ql_subscriptions SET webhook_batch = NULL WHERE id = ${sub.id}`
        })
        this.state.delivered += batch.length
        const rate = sub.webhook.maxEventsPerSecond
        if (rate)
          await sleep(Math.max(0, (batch.length / rate) * 1000 - (Date.now() - started)), this.lease.signal)
      }
    }
    return 'again'
  }

  /** The batch stored in flight on the subscription, read back from the log with fresh tokens. */
  private async inFlight(sub: Subscription): Promise<{ batch: Delivery[]; key: string } | undefined> {
    const [row] = await this
      .sql`SELECT webhook_batch::text AS batch FROM ql_subscriptions WHERE id = ${sub.id}`
    if (!row?.batch) return undefined
    const stored = JSON.parse(row.batch as string) as BatchInFlight
    const names = new Map((await this.delivery.subs.positions(sub)).map((p) => [p.topic.id, p.topic.name]))
    const byPartition = new Map<string, Array<[number, number, number]>>()
    for (const e of stored.events) {
      const k = `${e[0]}:${e[1]}`
      byPartition.set(k, [...(byPartition.get(k) ?? []), e])
    }
    const found = new Map<string, Delivery>()
    for (const list of byPartition.values()) {
      const [topicId, partition] = list[0]!
      const topic = names.get(topicId)
      if (topic === undefined) continue
      for (const event of await readAt(
        this.sql,
        topicId,
        partition,
        list.map((e) => e[2]),
      )) {
        const token = encodeToken({
          mode: 'stream',
          subscriptionId: sub.id,
          topicId,
          partition,
          offset: event.offset,
          attempt: WEBHOOK_MEMBER,
        })
        found.set(`${topicId}:${partition}:${event.offset}`, { token, topic, deliveries: 2, event })
      }
    }
    const batch = stored.events.flatMap((e) => found.get(e.join(':')) ?? [])
    return batch.length > 0 ? { batch, key: stored.key } : undefined
  }

  /** Sends one batch until it is taken (true), the breaker opens or the lease goes (false). */
  private async send(sub: Subscription, batch: Delivery[], key: string): Promise<boolean> {
    const hook = sub.webhook!
    const body =
      hook.batchSize === 1 && batch.length === 1
        ? envelopeJson(batch[0]!.topic, batch[0]!.event)
        : `{"events":[${batch.map((d) => envelopeJson(d.topic, d.event)).join(',')}]}`
    for (let attempt = 0; this.lease.held(); attempt++) {
      const t0 = performance.now()
      const { status, error } = await this.client.post(
        hook.url,
        {
          'content-type': 'application/json',
          'x-questlog-subscription': sub.name,
          ...hook.headers,
          // the same on every resend of this batch, from this broker or the next
          'idempotency-key': key,
        },
        body,
        hook.timeoutMs,
      )
      const durationMs = Math.round(performance.now() - t0)
      await this.sql`
        INSERT INTO ql_webhook_attempts (subscription_id, events, status_code, duration_ms, error)
        VALUES (${sub.id}, ${batch.length}, ${status}, ${durationMs}, ${error})`
      if (error === null) {
        this.state.consecutiveFailures = 0
        this.state.breaker = 'closed'
        return true
      }
      this.state.consecutiveFailures++
      if (this.state.breaker === 'half_open' || this.state.consecutiveFailures >= hook.failureThreshold) {
        if (this.state.breaker !== 'open') this.state.opened++
        this.state.breaker = 'open'
        this.openedAt = Date.now()
        this.log.warn({ subscription: sub.name, url: hook.url, error }, 'webhook circuit breaker open')
        // not acked: hand the batch back so the trial after the break starts with its first event
        for (const d of batch) await this.delivery.group.nak(sub, d.token).catch(() => {})
        await this.fenced((tx) => tx`UPDATE ql_subscriptions SET webhook_batch = NULL WHERE id = ${sub.id}`)
        return false
      }
      const backoff = hook.retryBackoffMs[Math.min(attempt, hook.retryBackoffMs.length - 1)] ?? 0
      await this.delivery.group.heartbeat(sub, WEBHOOK_MEMBER)
      await sleep(backoff, this.lease.signal)
    }
    return false
  }
}

/** Runs a pusher for each webhook subscription whose lease this broker holds. */
export class Webhooks implements LeasedWork {
  readonly prefix = 'webhook:'
  private readonly pushers = new Map<string, WebhookPusher>()
  private readonly client: WebhookClient

  constructor(
    private readonly sql: Sql,
    private readonly delivery: DeliveryService,
    guard: OutboundGuard,
    private readonly claimer: WorkClaimer,
    private readonly log: Logger,
  ) {
    this.client = new WebhookClient(guard)
  }

  async items(): Promise<Array<{ name: string; free: boolean }>> {
    const rows = await this.sql`
      SELECT s.id, (l.name IS NULL OR l.expires_at <= now()) AS free FROM ql_subscriptions s
      LEFT JOIN ql_leases l ON l.name = ${this.prefix} || s.id
      WHERE s.webhook IS NOT NULL ORDER BY s.id`
    return rows.map((r) => ({ name: `${this.prefix}${r.id}`, free: r.free as boolean }))
  }

  async run(name: string, lease: Lease): Promise<RunEnd> {
    const id = Number(name.slice(this.prefix.length))
    const [row] = await this.sql`SELECT name FROM ql_subscriptions WHERE id = ${id} AND webhook IS NOT NULL`
    if (!row) return 'done'
    const sub = row.name as string
    const pusher = new WebhookPusher(this.sql, this.delivery, this.client, sub, lease, this.log)
    this.pushers.set(sub, pusher)
    try {
      return await pusher.done
    } catch (err) {
      if (!isLeaseLost(err)) this.log.error({ err, subscription: sub }, 'webhook pusher stopped')
      return 'again'
    } finally {
      if (this.pushers.get(sub) === pusher) this.pushers.delete(sub)
    }
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.pushers.values()].map((p) => p.done))
    this.client.close()
  }

  /** Starts pushers for new webhook subscriptions now, rather than at the next heartbeat. */
  async sync(): Promise<void> {
    await this.claimer.offer(this)
  }

  /** The pusher's state, on the broker that runs it (null elsewhere). */
  state(name: string): WebhookState | null {
    return this.pushers.get(name)?.state ?? null
  }

  async attempts(sub: Subscription, limit: number): Promise<WebhookAttempt[]> {
    const rows = await this.sql`
      SELECT at, events, status_code, duration_ms, error FROM ql_webhook_attempts
      WHERE subscription_id = ${sub.id} ORDER BY id DESC LIMIT ${limit}`
    return rows.map((r) => ({
      at: new Date(r.at as string).toISOString(),
      events: Number(r.events),
      statusCode: r.status_code === null ? null : Number(r.status_code),
      durationMs: Number(r.duration_ms),
      error: (r.error as string | null) ?? null,
    }))
  }
}
