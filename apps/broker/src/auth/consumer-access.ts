import {
  type Action,
  type CreateReplay,
  ForbiddenError,
  isAllowed,
  SubscriptionExistsError,
  SubscriptionNotFoundError,
} from '@questlog/protocol'
import { deadLetterTopicName } from '../delivery/dead-letters'
import type { ReplayJob } from '../delivery/replay-jobs'
import type { Subscription, SubscriptionService } from '../delivery/subscriptions'
import { canSee, canSeePattern, type Principal, requirePattern, requireTopic } from './principal'

/*
 * Names a key creates live in its own part of the topic namespace: a consumer
 * group or a subscription named N needs `subscribe` on N, as if N were a topic.
 * Tenants whose rules do not overlap then never share a name, nor what the
 * broker stores under it (committed offsets, pending deliveries, dead letters),
 * and a browser token can be held to the groups its key allows it. Every check
 * here reads the rules alone, before any lookup, so a refusal is the same
 * whether another tenant uses the name or not.
 */

/** A consumer group over the WebSocket (`subscribe(topic, { group })`). */
export function requireGroupName(p: Principal, group: string): void {
  if (!isAllowed(p.rules, 'subscribe', group))
    throw new ForbiddenError(
      `key '${p.name}' may not use the consumer group '${group}': a group's name needs subscribe on it, as on a topic`,
    )
}

/** A subscription's name, and the topic `{name}.dlq` the broker writes its dead letters to. */
export function requireSubscriptionName(p: Principal, name: string): void {
  const dlq = deadLetterTopicName(name)
  if (!isAllowed(p.rules, 'subscribe', name) || !isAllowed(p.rules, 'subscribe', dlq))
    throw new ForbiddenError(
      `key '${p.name}' may not name a subscription '${name}': its name needs subscribe on '${name}' and on its dead-letter topic '${dlq}'`,
    )
}

/** A new subscription: admin on every topic its pattern can match, and a name of the key's own. */
export function requireNewSubscription(p: Principal, input: { name: string; topic: string }): void {
  requirePattern(p, 'admin', input.topic)
  requireSubscriptionName(p, input.name)
}

/** Whether listings (subscriptions, an event's status) show the subscription to the caller. */
export function listsSubscription(p: Principal, sub: Subscription): boolean {
  return canSeePattern(p, sub.topicPattern, ['subscribe', 'admin'])
}

/**
 * The subscription `name`, if the caller may `action` on all of its topics. One
 * the caller has no right on at all answers as if it did not exist.
 */
export async function usableSubscription(
  p: Principal,
  subs: SubscriptionService,
  name: string,
  action: Action,
): Promise<Subscription> {
  const sub = await subs.find(name)
  if (!sub || !canSeePattern(p, sub.topicPattern)) throw new SubscriptionNotFoundError(name)
  requirePattern(p, action, sub.topicPattern)
  return sub
}

/**
 * A replay reads its source with admin rights on it and writes into its target
 * as the key itself would: a topic needs publish; a subscription is one the key
 * administers already, or else a name of its own (created when missing).
 */
export async function requireReplay(p: Principal, subs: SubscriptionService, spec: CreateReplay) {
  requireTopic(p, 'admin', spec.topic)
  if ('topic' in spec.target) return requireTopic(p, 'publish', spec.target.topic)
  const name = spec.target.subscription
  const sub = await subs.find(name)
  if (sub && canSeePattern(p, sub.topicPattern)) return requirePattern(p, 'admin', sub.topicPattern)
  requireSubscriptionName(p, name)
  // hidden from this key, yet named in its own space: it cannot be made again
  if (sub) throw new SubscriptionExistsError(name)
}

/** Whether the caller may see a replay job: admin on its source, and its target within sight. */
export async function seesReplay(p: Principal, subs: SubscriptionService, job: ReplayJob) {
  if (!isAllowed(p.rules, 'admin', job.topic)) return false
  const target = job.spec.target
  if ('topic' in target) return canSee(p, target.topic)
  if (isAllowed(p.rules, 'subscribe', target.subscription)) return true
  const sub = await subs.find(target.subscription)
  return sub !== undefined && canSeePattern(p, sub.topicPattern)
}
