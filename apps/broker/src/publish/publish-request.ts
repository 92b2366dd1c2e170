import {
  type BackpressureHint,
  BadRequestError,
  type PublishEvent,
  publishBatchSchema,
  publishEventSchema,
  quickPublishEvents,
  type Receipt,
  ValidationError,
} from '@questlog/protocol'
import type { Principal } from '../auth/principal'
import { parse } from '../http/parse'
import { tracePublish } from '../observability/tracing'
import type { Services } from '../services'
import type { Topic } from '../topics/topic-service'
import { type PreparedEvent, prepareEvent, type WireEvent } from './prepare'
import type { PublishResult, PublishTurn } from './publisher'

function withHeader(headersJson: string | null, name: string, value: string): string {
  return JSON.stringify({
    ...(headersJson ? (JSON.parse(headersJson) as Record<string, string>) : {}),
    [name]: value,
  })
}

/**
 * Valid events go to the topic; those that failed the topic's schema (when it
 * dead-letters) go to `{topic}.invalid` with the reason in a header. Receipts
 * stay in request order.
 */
async function publishSplit(
  s: Services,
  topic: Topic,
  prepared: PreparedEvent[],
  invalid: Array<{ index: number; reason: string }>,
  turn: PublishTurn | undefined,
): Promise<PublishResult> {
  if (invalid.length === 0) return s.publisher.publish(topic, prepared, turn)
  const bad = new Map(invalid.map((x) => [x.index, x.reason]))
  const good = prepared.filter((_, i) => !bad.has(i))
  const target = await s.topics.ensure({
    name: `${topic.name}.invalid`,
    partitions: 1,
    encryption: topic.encryption,
  })
  const diverted = invalid.map((x) => ({
    ...prepared[x.index]!,
    partition: 0,
    headersJson: withHeader(prepared[x.index]!.headersJson, 'ql-invalid-reason', x.reason),
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
      ? s.publisher.publish(topic, good, part)
      : Promise.resolve({ receipts: [] } as PublishResult),
    s.publisher.publish(target, diverted, part),
  ])
  let g = 0
  let b = 0
  const receipts = prepared.map((_, i) =>
    bad.has(i)
      ? { ...ko.receipts[b++]!, invalid: { topic: target.name, reason: bad.get(i)! } }
      : ok.receipts[g++]!,
  )
  return ok.backpressure ? { receipts, backpressure: ok.backpressure } : { receipts }
}

export type PublishAnswer =
  | (Receipt & { backpressure?: BackpressureHint })
  | { receipts: Receipt[]; backpressure?: BackpressureHint }

/**
 * A publish request body, one event or `{events:[…]}`: validated whole before
 * anything is written, so a bad event stores nothing of its batch.
 */
export async function publishRequest(
  s: Services,
  topicName: string,
  body: unknown,
  defaultSource: string,
  principal?: Principal,
  turn?: PublishTurn,
): Promise<PublishAnswer> {
  const { events, batch } = checkPublishBody(body)
  return publishEvents(s, topicName, events, batch, defaultSource, principal, turn)
}

/** The events of a publish body, one event or `{events:[…]}`, checked against the publish schema. */
export function checkPublishBody(body: unknown): { events: PublishEvent[]; batch: boolean } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('send a JSON object: one event, or {"events": [...]}')
  }
  const batch = 'events' in body
  // the common shapes pass a hand-written check; anything else gets the schema and its field paths
  const events: PublishEvent[] =
    quickPublishEvents(body, batch) ??
    (batch ? parse(publishBatchSchema, body).events : [parse(publishEventSchema, body)])
  return { events, batch }
}

/**
 * Publishes events already checked against the publish schema (one event when
 * not `batch`): prepared, rate-limited, checked against the topic's schema,
 * then written.
 */
export async function publishEvents(
  s: Services,
  topicName: string,
  events: WireEvent[],
  batch: boolean,
  defaultSource: string,
  principal?: Principal,
  turn?: PublishTurn,
): Promise<PublishAnswer> {
  const topic = await s.topics.get(topicName)
  const ctx = { topic, defaultSource }
  const prepared: PreparedEvent[] = events.map((e, i) => prepareEvent(e, batch ? i : null, ctx))
  if (principal)
    s.rateLimits.charge(
      principal,
      prepared.length,
      prepared.reduce((n, e) => n + e.size, 0),
    )
  const checked = await s.schemas.check(
    topic,
    prepared,
    (i) => events[i]!.schemaVersion,
    (i) => (batch ? `events.${i}.data` : 'data'),
  )
  let invalid: Array<{ index: number; reason: string }> = []
  if (checked) {
    const issues = checked.flatMap((c) => c.issues)
    if (issues.length > 0 && topic.onInvalid === 'reject') throw new ValidationError(issues)
    invalid = checked.flatMap((c, index) =>
      c.issues.length > 0
        ? [{ index, reason: c.issues.map((x) => `${x.path}: ${x.message}`).join('; ') }]
        : [],
    )
    checked.forEach((c, i) => {
      prepared[i]!.headersJson = withHeader(prepared[i]!.headersJson, 'ql-schema-version', String(c.version))
    })
  }
  const traces = prepared.map((p) => {
    const t = tracePublish(topic.name, p.headersJson)
    p.headersJson = t.headersJson
    return t
  })
  let result: PublishResult
  try {
    result = await publishSplit(s, topic, prepared, invalid, turn)
  } catch (e) {
    for (const t of traces) t.end(e as Error)
    throw e
  }
  for (const [i, r] of result.receipts.entries()) traces[i]!.end(r)
  if (batch) return result
  const answer: PublishAnswer = { ...result.receipts[0]! }
  if (result.backpressure) answer.backpressure = result.backpressure
  return answer
}
