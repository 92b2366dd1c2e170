import type { Logger } from 'pino'
import { envelopeJson } from '../read/envelope-json'
import type { Sql } from '../storage/db'
import type { Delivery } from './delivery'
import type { DeliveryService } from './delivery-service'
import type { OutboundGuard } from './outbound-guard'
import type { Subscription } from './subscriptions'
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
const SYNC_MS = 1000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Pushes one webhook subscription's events to its endpoint. The pusher is a
 * member of the subscription's consumer group, so several brokers share the
 * partitions and each partition's events arrive in order. A batch is retried
 * until the endpoint takes it; consecutive failures open the circuit breaker,
 * which half-opens after `openMs` for one trial request.
 */
class WebhookPusher {
  readonly state: WebhookState = { breaker: 'closed', consecutiveFailures: 0, opened: 0, delivered: 0 }
  private running = true
  private openedAt = 0
  readonly done: Promise<void>

  constructor(
    private readonly sql: Sql,
    private readonly delivery: DeliveryService,
    private readonly client: WebhookClient,
    private readonly subscriptionName: string,
    private readonly member: string,
    private readonly log: Logger,
  ) {
    this.done = this.loop().catch((err) =>
      this.log.error({ err, subscription: subscriptionName }, 'webhook pusher stopped'),
    )
  }

  stop(): void {
    this.running = false
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const sub = await this.delivery.subs.find(this.subscriptionName)
      if (!sub?.webhook) return
      if (this.state.breaker === 'open') {
        const wait = this.openedAt + sub.webhook.openMs - Date.now()
        if (wait > 0) {
          await this.delivery.group.heartbeat(sub, this.member)
          await sleep(Math.min(wait, IDLE_MS * 5))
          continue
        }
        this.state.breaker = 'half_open'
      }
      const max = this.state.breaker === 'half_open' ? 1 : sub.webhook.batchSize
      const batch = await this.delivery.group.pull(sub, this.member, max)
      this.delivery.observe(sub.name, batch)
      if (batch.length === 0) {
        await sleep(IDLE_MS)
        continue
      }
      const started = Date.now()
      if (await this.send(sub, batch)) {
        await this.delivery.group
          .ack(
            sub,
            batch.map((d) => d.token),
          )
          .catch(() => {
            // the partition moved while we sent: its new owner redelivers from the last commit
          })
        this.state.delivered += batch.length
        const rate = sub.webhook.maxEventsPerSecond
        if (rate) await sleep(Math.max(0, (batch.length / rate) * 1000 - (Date.now() - started)))
      }
    }
  }

  /** Sends one batch until it is taken (true) or the pusher stops (false). */
  private async send(sub: Subscription, batch: Delivery[]): Promise<boolean> {
    const hook = sub.webhook!
    const body =
      hook.batchSize === 1 && batch.length === 1
        ? envelopeJson(batch[0]!.topic, batch[0]!.event)
        : `{"events":[${batch.map((d) => envelopeJson(d.topic, d.event)).join(',')}]}`
    for (let attempt = 0; this.running; attempt++) {
      const t0 = performance.now()
      const { status, error } = await this.client.post(
        hook.url,
        { 'content-type': 'application/json', 'x-questlog-subscription': sub.name, ...hook.headers },
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
        return false
      }
      const backoff = hook.retryBackoffMs[Math.min(attempt, hook.retryBackoffMs.length - 1)] ?? 0
      await this.delivery.group.heartbeat(sub, this.member)
      await sleep(backoff)
    }
    return false
  }
}

/** Runs a pusher for every webhook subscription, following creations and deletions. */
export class Webhooks {
  private readonly pushers = new Map<string, WebhookPusher>()
  private readonly client: WebhookClient
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly sql: Sql,
    private readonly delivery: DeliveryService,
    guard: OutboundGuard,
    private readonly brokerId: string,
    private readonly log: Logger,
  ) {
    this.client = new WebhookClient(guard)
  }

  start(): void {
    const sync = () => {
      this.sync()
        .catch((err) => this.log.warn({ err }, 'webhook sync failed'))
        .finally(() => {
          this.timer = setTimeout(sync, SYNC_MS)
          this.timer.unref()
        })
    }
    sync()
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer)
    for (const p of this.pushers.values()) p.stop()
    await Promise.allSettled([...this.pushers.values()].map((p) => p.done))
    this.pushers.clear()
    this.client.close()
  }

  /** Starts pushers for new webhook subscriptions now, rather than at the next sync. */
  async sync(): Promise<void> {
    const subs = (await this.delivery.subs.list()).filter((s) => s.webhook !== null)
    const wanted = new Set(subs.map((s) => s.name))
    for (const [name, p] of this.pushers) {
      if (!wanted.has(name)) {
        p.stop()
        this.pushers.delete(name)
      }
    }
    for (const s of subs) {
      if (!this.pushers.has(s.name)) {
        this.pushers.set(
          s.name,
          new WebhookPusher(
            this.sql,
            this.delivery,
            this.client,
            s.name,
            `webhook-${this.brokerId}`,
            this.log,
          ),
        )
      }
    }
  }

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
