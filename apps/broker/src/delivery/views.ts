import { envelopeJson } from '../read/envelope-json'
import type { Sql } from '../storage/db'
import { readAt } from '../storage/event-store'
import type { DeadLetterRow } from './dead-letters'
import type { Delivery } from './delivery'
import type { SubscriptionReport } from './delivery-service'
import type { Subscription } from './subscriptions'

/** JSON shapes of subscriptions, deliveries and dead letters, shared by HTTP and tRPC. */
export function subscriptionView(s: Subscription) {
  return {
    name: s.name,
    topic: s.topicPattern,
    mode: s.mode,
    ordering: s.ordering,
    typeFilter: s.typeFilter,
    from: s.start,
    ackWaitMs: s.ackWaitMs,
    maxDeliveries: s.maxDeliveries,
    backoffMs: s.backoffMs,
    sessionTimeoutMs: s.sessionTimeoutMs,
    webhook: s.webhook,
    paused: s.paused,
    createdAt: s.createdAt.toISOString(),
  }
}

export function reportView(r: SubscriptionReport) {
  return { ...subscriptionView(r.subscription), ...r, subscription: undefined }
}

/** Deliveries as JSON text: payloads are spliced in unparsed. */
export function deliveriesJson(list: Delivery[]): string {
  const items = list.map(
    (d) =>
      `{"token":${JSON.stringify(d.token)},"topic":${JSON.stringify(d.topic)},"deliveries":${d.deliveries},"event":${envelopeJson(d.topic, d.event)}}`,
  )
  return `{"deliveries":[${items.join(',')}]}`
}

export async function deadLetterViews(sql: Sql, rows: DeadLetterRow[], topicNames: Map<number, string>) {
  const out = []
  for (const r of rows) {
    const [event] = await readAt(sql, r.topicId, r.partition, [r.offset])
    const topic = topicNames.get(r.topicId) ?? ''
    out.push({
      id: r.id,
      topic,
      partition: r.partition,
      offset: String(r.offset),
      reason: r.reason,
      deliveries: r.deliveries,
      deadAt: r.deadAt.toISOString(),
      redrivenAt: r.redrivenAt?.toISOString() ?? null,
      event: event ? (JSON.parse(envelopeJson(topic, event)) as Record<string, unknown>) : null,
    })
  }
  return out
}
