import {
  type BackpressureHint,
  BadRequestError,
  type PublishEvent,
  publishBatchSchema,
  publishEventSchema,
  type Receipt,
} from '@questlog/protocol'
import { parse } from '../http/parse'
import type { Services } from '../services'
import { type PreparedEvent, prepareEvent } from './prepare'

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
): Promise<PublishAnswer> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('send a JSON object: one event, or {"events": [...]}')
  }
  const batch = 'events' in body
  const events: PublishEvent[] = batch
    ? parse(publishBatchSchema, body).events
    : [parse(publishEventSchema, body)]
  const topic = await s.topics.get(topicName)
  const ctx = { topic, defaultSource }
  const prepared: PreparedEvent[] = events.map((e, i) => prepareEvent(e, batch ? i : null, ctx))
  const result = await s.publisher.publish(topic, prepared)
  if (batch) return result
  const answer: PublishAnswer = { ...result.receipts[0]! }
  if (result.backpressure) answer.backpressure = result.backpressure
  return answer
}
