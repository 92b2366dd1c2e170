import { compileSubjectPattern, TimeoutError, ValidationError } from '@questlog/protocol'
import type { Sql } from '../storage/db'
import type { Topic } from '../topics/topic-service'
import { stateIn } from './event-status'
import type { SubscriptionService } from './subscriptions'

const POLL_MS = 25
/** Confirmations are for the few events that matter one by one, not bulk traffic. */
export const MAX_CONFIRMED_EVENTS = 100

/**
 * Publisher confirmations: resolves once every given event has been acked by at
 * least `n` subscriptions; rejects with a TimeoutError otherwise (the events
 * stay published).
 */
export async function waitForAcks(
  sql: Sql,
  subs: SubscriptionService,
  topic: Topic,
  events: Array<{ partition: number; offset: number; type: string }>,
  n: number,
  timeoutMs: number,
): Promise<void> {
  if (events.length > MAX_CONFIRMED_EVENTS) {
    throw new ValidationError([
      { path: 'confirm', message: `confirmations cover at most ${MAX_CONFIRMED_EVENTS} events per request` },
    ])
  }
  const deadline = Date.now() + timeoutMs
  let remaining = events
  let acked = 0
  for (;;) {
    const candidates = (await subs.list()).filter((s) => compileSubjectPattern(s.topicPattern)(topic.name))
    const left: typeof events = []
    acked = Number.POSITIVE_INFINITY
    for (const e of remaining) {
      let count = 0
      for (const sub of candidates) {
        const { state } = await stateIn(sql, sub, { topicId: topic.id, ...e })
        if (state === 'acked') count++
      }
      acked = Math.min(acked, count)
      if (count < n) left.push(e)
    }
    remaining = left
    if (remaining.length === 0) return
    if (Date.now() >= deadline) {
      throw new TimeoutError(
        `${remaining.length} event(s) had ${acked} of the ${n} acks asked for after ${timeoutMs} ms; they stay published`,
        timeoutMs,
      )
    }
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}
