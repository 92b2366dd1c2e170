import { type BackpressureHint, isCompacted, type Receipt, ValidationError } from '@questlog/protocol'
import { type Principal, requireTopic } from '../auth/principal'
import type { RateLimiter } from '../auth/rate-limiter'
import { tracePublish } from '../observability/tracing'
import type { SchemaRegistry } from '../schemas/schema-registry'
import type { Topic, TopicService } from '../topics/topic-service'
import type { Publisher, PublishResult, PublishTurn } from './publisher'
import { type PreparedEvent, validateEvent, type WireEvent } from './validate'

/** The ways in to a publish; each names the `source` of events that do not name one. */
export const DOOR_SOURCES = {
  http: '/http',
  websocket: '/ws',
  cloudevents: '/cloudevents',
  console: '/console',
  scheduled: '/scheduled',
  replay: '/replay',
  'dead-letter': '/dead-letter',
  outbox: '/outbox',
} as const

export type Door = keyof typeof DOOR_SOURCES

export interface PublishRequest {
  door: Door
  topic: string
  /** Who publishes: its rules authorize the publish, its limits are charged. The broker's own work is BROKER. */
  principal: Principal
  /** The events as the door's parse step made them (see parse-body.ts, parse-columns.ts, parse-cloudevents.ts). */
  events: WireEvent[]
  /** `{events:[…]}`, answered with receipts; else one event, answered with one receipt. */
  batch: boolean
  /** The publish's place among its connection's publishes (a WebSocket's). */
  turn?: PublishTurn | undefined
}

export type PublishAnswer =
  | (Receipt & { backpressure?: BackpressureHint })
  | { receipts: Receipt[]; backpressure?: BackpressureHint }

export interface PipelineDeps {
  topics: TopicService
  schemas: SchemaRegistry
  rateLimits: RateLimiter
  publisher: Publisher
}

interface Admitted {
  topic: Topic
  events: PreparedEvent[]
}

/**
 * The one publish pipeline. Every way in — HTTP, both WebSocket forms,
 * CloudEvents, the console, scheduled events falling due, replays into a
 * topic, dead-letter copies — parses its own wire form and then calls
 * `publish`, which runs the same steps for all of them, in this order:
 *
 *   authorize → validate (fields, sizes, payload, schema) → rate-limit →
 *   partition → write (group commit) → fan out
 *
 * so a rule added here holds at every door. Nothing reaches a shared batch
 * before it has passed every check.
 */
export class PublishPipeline {
  constructor(private readonly d: PipelineDeps) {}

  async publish(req: PublishRequest): Promise<PublishAnswer> {
    const { topic, events } = this.validate(req, await this.authorize(req))
    const invalid = await this.checkSchema(topic, events, req)
    await this.charge(req.principal, events)
    const traces = events.map((e) => {
      const t = tracePublish(topic.name, e.headersJson)
      e.headersJson = t.headersJson
      return t
    })
    let result: PublishResult
    try {
      result = await this.write(topic, events, invalid, req.turn)
    } catch (e) {
      for (const t of traces) t.end(e as Error)
      throw e
    }
    for (const [i, r] of result.receipts.entries()) traces[i]!.end(r)
    if (req.batch) return result
    const answer: PublishAnswer = { ...result.receipts[0]! }
    if (result.backpressure) answer.backpressure = result.backpressure
    return answer
  }

  /**
   * The steps up to the write, for a publish kept to be written later (a
   * scheduled event): authorized, validated and charged now, so a bad or
   * over-limit event fails when it is sent, not at its time.
   */
  async admit(req: PublishRequest): Promise<Admitted> {
    const admitted = this.validate(req, await this.authorize(req))
    await this.charge(req.principal, admitted.events)
    return admitted
  }

  private async authorize(req: PublishRequest): Promise<Topic> {
    requireTopic(req.principal, 'publish', req.topic)
    return this.d.topics.get(req.topic)
  }

  private validate(req: PublishRequest, topic: Topic): Admitted {
    const ctx = { topic, defaultSource: DOOR_SOURCES[req.door] }
    const events = req.events.map((e, i) => validateEvent(e, req.batch ? i : null, ctx))
    if (isCompacted(topic.cleanup)) {
      // compaction keeps the latest event of each key: an event without one has no place there (as in Kafka)
      const issues = events.flatMap((e, i) =>
        e.key === null
          ? [
              {
                path: req.batch ? `events.${i}.key` : 'key',
                message: 'a compacted topic needs a key on every event',
              },
            ]
          : [],
      )
      if (issues.length > 0) throw new ValidationError(issues)
    }
    return { topic, events }
  }

  /** The topic's schema, if it has one: refuses the publish, or names the events to divert to `{topic}.invalid`. */
  private async checkSchema(
    topic: Topic,
    events: PreparedEvent[],
    req: PublishRequest,
  ): Promise<Map<number, string>> {
    const invalid = new Map<number, string>()
    const checked = await this.d.schemas.check(
      topic,
      events,
      (i) => req.events[i]!.schemaVersion,
      (i) => (req.batch ? `events.${i}.data` : 'data'),
    )
    if (!checked) return invalid
    const issues = checked.flatMap((c) => c.issues)
    if (issues.length > 0 && topic.onInvalid === 'reject') throw new ValidationError(issues)
    checked.forEach((c, i) => {
      if (c.issues.length > 0) invalid.set(i, c.issues.map((x) => `${x.path}: ${x.message}`).join('; '))
      events[i]!.headersJson = withHeader(events[i]!.headersJson, 'ql-schema-version', String(c.version))
    })
    return invalid
  }

  /** A whole publish is charged at once: its events and their bytes, headers included. */
  private async charge(principal: Principal, events: PreparedEvent[]): Promise<void> {
    let bytes = 0
    for (const e of events) bytes += e.size
    await this.d.rateLimits.charge(principal, events.length, bytes)
  }

  /**
   * Valid events go to the topic; those that failed the topic's schema (when it
   * dead-letters) go to `{topic}.invalid` with the reason in a header. Receipts
   * stay in request order.
   */
  private async write(
    topic: Topic,
    events: PreparedEvent[],
    invalid: Map<number, string>,
    turn: PublishTurn | undefined,
  ): Promise<PublishResult> {
    const publisher = this.d.publisher
    if (invalid.size === 0) return publisher.publish(topic, events, turn)
    const good = events.filter((_, i) => !invalid.has(i))
    const target = await this.d.topics.ensure({
      name: `${topic.name}.invalid`,
      partitions: 1,
      encryption: topic.encryption,
    })
    const diverted = [...invalid].map(([i, reason]) => ({
      ...events[i]!,
      partition: 0,
      headersJson: withHeader(events[i]!.headersJson, 'ql-invalid-reason', reason),
    }))
    // queued once both parts are
    let parts = good.length > 0 ? 2 : 1
    const part: PublishTurn | undefined = turn && {
      admit: () => turn.admit(),
      queued: () => {
        if (--parts === 0) turn.queued()
      },
    }
    const [ok, ko] = await Promise.all([
      good.length > 0
        ? publisher.publish(topic, good, part)
        : Promise.resolve<PublishResult>({ receipts: [] }),
      publisher.publish(target, diverted, part),
    ])
    let g = 0
    let b = 0
    const receipts = events.map((_, i) => {
      const reason = invalid.get(i)
      return reason === undefined
        ? ok.receipts[g++]!
        : { ...ko.receipts[b++]!, invalid: { topic: target.name, reason } }
    })
    return ok.backpressure ? { receipts, backpressure: ok.backpressure } : { receipts }
  }
}

function withHeader(headersJson: string | null, name: string, value: string): string {
  return JSON.stringify({
    ...(headersJson ? (JSON.parse(headersJson) as Record<string, string>) : {}),
    [name]: value,
  })
}
