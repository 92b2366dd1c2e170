import { randomUUID } from 'node:crypto'
import {
  type CreateReplay,
  compileSubjectPattern,
  NotFoundError,
  parseTimeParam,
  type ReplayStatus,
  subjectPatternToRegex,
  ValidationError,
} from '@questlog/protocol'
import type { Logger } from 'pino'
import { BROKER } from '../auth/principal'
import type { LeasedWork, RunEnd, WorkClaimer } from '../cluster/leased-work'
import { isLeaseLost, type Lease } from '../cluster/leases'
import { copyOfStored } from '../publish/copy-event'
import type { PublishPipeline } from '../publish/pipeline'
import type { Sql, TransactionSql } from '../storage/db'
import {
  highWatermarks,
  lowWatermarks,
  offsetsForTime,
  readEvents,
  type StoredEvent,
} from '../storage/event-store'
import type { Topic, TopicService } from '../topics/topic-service'
import type { SubscriptionService } from './subscriptions'

export interface ReplayJob {
  id: string
  topic: string
  spec: CreateReplay
  status: ReplayStatus
  total: number
  scanned: number
  delivered: number
  percent: number
  error: string | null
  createdAt: string
  updatedAt: string
}

type Ranges = Array<[partition: number, next: number, end: number]>

export const replayNotFound = (id: string) => new NotFoundError(`replay job '${id}' does not exist`, { id })

const PAGE = 500

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

/**
 * Replay jobs re-deliver a range of a topic (by offset or time, filtered) into a
 * queue subscription or another topic, in the background, with progress that
 * survives a broker restart. Each job runs on the one broker holding its lease
 * (`replay:<id>`) and moves to another when that broker dies. Its progress is
 * written under the lease's fence, in the same transaction as the deliveries
 * into a subscription, so a page is handed over once however the job moves;
 * copies into a topic carry a dedupe key per source event besides.
 */
export class ReplayJobs implements LeasedWork {
  readonly prefix = 'replay:'
  private readonly running = new Map<string, Promise<RunEnd>>()
  private stopped = false

  constructor(
    private readonly sql: Sql,
    private readonly topics: TopicService,
    private readonly subs: SubscriptionService,
    private readonly pipeline: PublishPipeline,
    private readonly claimer: WorkClaimer,
    private readonly log: Logger,
  ) {}

  /** Jobs pending or running, each with whether its lease is free (its broker died or stopped). */
  async items(): Promise<Array<{ name: string; free: boolean }>> {
    const rows = await this.sql`
      SELECT j.id, (l.name IS NULL OR l.expires_at <= now()) AS free FROM ql_replay_jobs j
      LEFT JOIN ql_leases l ON l.name = ${this.prefix} || j.id
      WHERE j.status IN ('pending', 'running') ORDER BY j.created_at`
    return rows.map((r) => ({ name: this.prefix + (r.id as string), free: r.free as boolean }))
  }

  async stop(): Promise<void> {
    this.stopped = true
    await Promise.allSettled(this.running.values())
  }

  async create(spec: CreateReplay): Promise<ReplayJob> {
    const topic = await this.topics.get(spec.topic)
    if (spec.partition !== undefined && spec.partition >= topic.partitions) {
      throw new ValidationError([
        { path: 'partition', message: `topic '${topic.name}' has partitions 0..${topic.partitions - 1}` },
      ])
    }
    if ('topic' in spec.target) {
      await this.topics.get(spec.target.topic)
      if (spec.target.topic === topic.name) {
        throw new ValidationError([
          { path: 'target.topic', message: 'a replay cannot write into the topic it reads' },
        ])
      }
    } else {
      const sub = await this.subs.find(spec.target.subscription)
      if (!sub) {
        // a fresh queue subscription that receives only the replayed events
        await this.subs.create({
          name: spec.target.subscription,
          topic: topic.name,
          mode: 'queue',
          ordering: 'none',
          from: 'latest',
          ackWaitMs: 30_000,
          maxDeliveries: 5,
          backoffMs: [1000, 5000, 30_000],
          sessionTimeoutMs: 10_000,
        })
      } else if (sub.mode !== 'queue') {
        throw new ValidationError([
          {
            path: 'target.subscription',
            message: 'replays deliver into queue subscriptions; reset a stream subscription instead',
          },
        ])
      } else if (!compileSubjectPattern(sub.topicPattern)(topic.name)) {
        // its consumers are allowed its topics, not necessarily this one
        throw new ValidationError([
          {
            path: 'target.subscription',
            message: `subscription '${sub.name}' does not read '${topic.name}': replay into one that does`,
          },
        ])
      }
    }
    const ranges = await this.ranges(topic, spec)
    const total = ranges.reduce((sum, [, from, to]) => sum + Math.max(0, to - from), 0)
    const id = randomUUID()
    await this.sql`
      INSERT INTO ql_replay_jobs (id, topic_id, spec, status, ranges, total)
      VALUES (${id}, ${topic.id}, ${JSON.stringify(spec)}::jsonb, 'pending', ${JSON.stringify(ranges)}::jsonb, ${total})`
    await this.claimer.claim(this, this.prefix + id)
    return this.get(id)
  }

  private async ranges(topic: Topic, spec: CreateReplay): Promise<Ranges> {
    const [low, high] = await Promise.all([
      lowWatermarks(this.sql, topic.id),
      highWatermarks(this.sql, topic.id),
    ])
    const parts = spec.partition !== undefined ? [spec.partition] : [...high.keys()]
    const since =
      spec.since === undefined
        ? undefined
        : await offsetsForTime(this.sql, topic.id, parseTimeParam(spec.since)!.getTime())
    const until =
      spec.until === undefined
        ? undefined
        : await offsetsForTime(this.sql, topic.id, parseTimeParam(spec.until)!.getTime())
    return parts.map((p) => {
      const lo = low.get(p) ?? 0
      const hi = high.get(p) ?? 0
      const from = Math.max(lo, since?.get(p) ?? spec.fromOffset ?? lo)
      const to = Math.min(hi, until?.get(p) ?? spec.toOffset ?? hi)
      return [p, from, Math.max(from, to)]
    })
  }

  run(name: string, lease: Lease): Promise<RunEnd> {
    const id = name.slice(this.prefix.length)
    const run = this.execute(id, lease)
      .catch(async (e): Promise<RunEnd> => {
        if (isLeaseLost(e) || !lease.held()) return 'again'
        this.log.error({ err: e, job: id }, 'replay job failed')
        await this.fenced(
          lease,
          (tx) => tx`
          UPDATE ql_replay_jobs SET status = 'failed', error = ${String((e as Error).message ?? e)},
                 updated_at = now() WHERE id = ${id} AND status = 'running'`,
        ).catch(() => {})
        return 'done'
      })
      .finally(() => this.running.delete(id))
    this.running.set(id, run)
    return run
  }

  /** Runs `write` in a transaction that holds the lease's fence: nothing is written once the job moved. */
  private fenced<T>(lease: Lease, write: (tx: TransactionSql) => Promise<T>): Promise<T> {
    return this.sql.begin(async (tx) => {
      await lease.fence(tx)
      return write(tx)
    }) as Promise<T>
  }

  private async execute(id: string, lease: Lease): Promise<RunEnd> {
    const [row] = await this.fenced(
      lease,
      (tx) => tx`
      UPDATE ql_replay_jobs SET status = 'running', updated_at = now()
      WHERE id = ${id} AND status IN ('pending', 'running') RETURNING *, spec::text AS spec_json, ranges::text AS ranges_json`,
    )
    if (!row) return 'done'
    const spec = JSON.parse(row.spec_json as string) as CreateReplay
    const ranges = JSON.parse(row.ranges_json as string) as Ranges
    const topic = await this.topics.get(spec.topic)
    const sub = 'subscription' in spec.target ? await this.subs.get(spec.target.subscription) : undefined
    const target = 'topic' in spec.target ? await this.topics.get(spec.target.topic) : undefined
    const typeRegex = spec.filter.type === undefined ? undefined : subjectPatternToRegex(spec.filter.type)
    const headerFilter = Object.entries(spec.filter.headers ?? {})
    let scanned = Number(row.scanned)
    let delivered = Number(row.delivered)
    const started = Date.now()
    const startScanned = scanned

    for (const range of ranges) {
      const [partition, , end] = range
      while (range[1] < end) {
        // a lease this broker can no longer vouch for: the next holder goes on from the stored progress
        if (this.stopped || !lease.held()) return 'again'
        const from = range[1]
        const events = await readEvents(this.sql, topic.id, {
          positions: new Map([[partition, from]]),
          key: spec.filter.key,
          typeRegex,
          limit: Math.min(PAGE, end - from),
          order: 'offset',
        })
        const inRange = events.filter((e) => e.offset < end)
        const matched = inRange.filter((e) => matchesHeaders(e, headerFilter))
        if (matched.length > 0 && target) await this.intoTopic(id, topic.name, target, matched)
        const next = inRange.length < Math.min(PAGE, end - from) ? end : inRange.at(-1)!.offset + 1
        range[1] = next
        const [state] = await this.fenced(lease, async (tx) => {
          if (matched.length > 0 && sub) await this.intoSubscription(tx, sub.id, topic.id, matched)
          return tx`
            UPDATE ql_replay_jobs SET ranges = ${JSON.stringify(ranges)}::jsonb, scanned = ${scanned + next - from},
                   delivered = ${delivered + matched.length}, updated_at = now()
            WHERE id = ${id} RETURNING status`
        })
        scanned += next - from
        delivered += matched.length
        if (state?.status !== 'running') return 'done' // cancelled
        if (spec.maxEventsPerSecond !== undefined) {
          const due = started + ((scanned - startScanned) / spec.maxEventsPerSecond) * 1000
          if (due > Date.now()) await sleep(due - Date.now(), lease.signal)
        }
      }
    }
    await this.fenced(
      lease,
      (tx) => tx`
      UPDATE ql_replay_jobs SET status = 'done', updated_at = now() WHERE id = ${id} AND status = 'running'`,
    )
    return 'done'
  }

  private async intoSubscription(
    tx: TransactionSql,
    subscriptionId: number,
    topicId: number,
    events: StoredEvent[],
  ): Promise<void> {
    await tx`
      INSERT INTO ql_pending (subscription_id, topic_id, partition, "offset", deliveries, deliver_after)
      SELECT ${subscriptionId}, ${topicId}, u.p, u.o, 0, now()
      FROM unnest(${events.map((e) => e.partition)}::int[], ${events.map((e) => e.offset)}::bigint[]) AS u(p, o)
      ON CONFLICT DO NOTHING`
  }

  private async intoTopic(job: string, source: string, target: Topic, events: StoredEvent[]): Promise<void> {
    await this.pipeline.publish({
      door: 'replay',
      topic: target.name,
      principal: BROKER,
      batch: true,
      events: events.map((e) =>
        copyOfStored(e, {
          headers: { 'ql-replay-job': job, 'ql-replay-source': `${source}/${e.partition}/${e.offset}` },
          // a resumed job never writes the same source event twice
          dedupeKey: `replay-${job}-${e.partition}-${e.offset}`,
        }),
      ),
    })
  }

  async cancel(id: string): Promise<ReplayJob> {
    const job = await this.get(id)
    await this.sql`UPDATE ql_replay_jobs SET status = 'cancelled', updated_at = now()
                   WHERE id = ${id} AND status IN ('pending', 'running')`
    await this.running.get(id)
    return { ...(await this.get(id)), topic: job.topic }
  }

  async get(id: string): Promise<ReplayJob> {
    const [row] = await this.sql`
      SELECT j.*, j.spec::text AS spec_json, t.name AS topic FROM ql_replay_jobs j JOIN ql_topics t ON t.id = j.topic_id
      WHERE j.id = ${id}`
    if (!row) throw replayNotFound(id)
    return toJob(row)
  }

  async list(limit = 100): Promise<ReplayJob[]> {
    const rows = await this.sql`
      SELECT j.*, j.spec::text AS spec_json, t.name AS topic FROM ql_replay_jobs j JOIN ql_topics t ON t.id = j.topic_id
      ORDER BY j.created_at DESC LIMIT ${limit}`
    return rows.map(toJob)
  }
}

function matchesHeaders(e: StoredEvent, wanted: Array<[string, string]>): boolean {
  if (wanted.length === 0) return true
  const headers = e.headersJson ? (JSON.parse(e.headersJson) as Record<string, string>) : {}
  return wanted.every(([k, v]) => headers[k] === v)
}

function toJob(r: Record<string, unknown>): ReplayJob {
  const total = Number(r.total)
  const scanned = Number(r.scanned)
  return {
    id: r.id as string,
    topic: r.topic as string,
    spec: JSON.parse(r.spec_json as string) as CreateReplay,
    status: r.status as ReplayStatus,
    total,
    scanned,
    delivered: Number(r.delivered),
    percent: total === 0 ? 100 : Math.min(100, Math.floor((scanned / total) * 1000) / 10),
    error: (r.error as string | null) ?? null,
    createdAt: new Date(r.created_at as string).toISOString(),
    updatedAt: new Date(r.updated_at as string).toISOString(),
  }
}
