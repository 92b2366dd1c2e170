import {
  type AclRule,
  type Action,
  ForbiddenError,
  isAllowed,
  isAllowedPattern,
  type KeyQuotas,
} from '@questlog/protocol'

/** Who is calling, and what they may do. */
export interface Principal {
  /** The API key behind the call (a token's minting key); null when auth is off. */
  keyId: string | null
  name: string
  rules: AclRule[]
  kind: 'key' | 'token' | 'open' | 'broker'
  rateEventsPerSec: number | null
  rateBytesPerSec: number | null
  /** The key's own quotas, where it has any (see auth/quotas.ts). */
  quotas: KeyQuotas
  /** When the credential stops being valid (epoch ms): a token's or its key's expiry; null when it does not expire. */
  expiresAt: number | null
}

/** With QUESTLOG_AUTH=off every caller is this. */
export const OPEN: Principal = {
  keyId: null,
  name: 'anyone (auth off)',
  rules: [{ effect: 'allow', actions: ['publish', 'subscribe', 'admin', 'presence'], topics: ['>'] }],
  kind: 'open',
  rateEventsPerSec: null,
  rateBytesPerSec: null,
  quotas: {},
  expiresAt: null,
}

export const ADMIN_RULES: AclRule[] = [
  { effect: 'allow', actions: ['publish', 'subscribe', 'admin', 'presence'], topics: ['>'] },
]

/**
 * The broker's own work (scheduled events falling due, replays, dead-letter
 * copies): authorized and charged when a caller asked for it, so unlimited here.
 */
export const BROKER: Principal = {
  keyId: null,
  name: 'the broker',
  rules: ADMIN_RULES,
  kind: 'broker',
  rateEventsPerSec: null,
  rateBytesPerSec: null,
  quotas: {},
  expiresAt: null,
}

// the message never says whether the topic exists: another tenant's names stay unknown
const refuse = (p: Principal, action: Action, what: string) =>
  new ForbiddenError(`key '${p.name}' may not ${action} on ${what}`)

export function requireTopic(p: Principal, action: Action, topic: string): void {
  if (!isAllowed(p.rules, action, topic)) throw refuse(p, action, `'${topic}'`)
}

/** For requests over a pattern of topics (subscriptions): allowed on every topic it can match. */
export function requirePattern(p: Principal, action: Action, pattern: string): void {
  if (!isAllowedPattern(p.rules, action, pattern)) throw refuse(p, action, `'${pattern}'`)
}

/** An operator, who may administer the broker (keys, audit log, the console's API): admin on every topic. */
export function isSuperuser(p: Principal): boolean {
  return isAllowedPattern(p.rules, 'admin', '>')
}

export function requireSuperuser(p: Principal): void {
  if (!isSuperuser(p)) throw new ForbiddenError(`key '${p.name}' is not an administrator`)
}

// presence names channels, not topics: a presence right shows no topic
const ANY: readonly Action[] = ['publish', 'subscribe', 'admin']

/** Whether the caller may see a topic at all (any action). */
export function canSee(p: Principal, topic: string): boolean {
  return ANY.some((a) => isAllowed(p.rules, a, topic))
}

/** Whether the caller may use every topic a pattern can match, for some action (subscriptions). */
export function canSeePattern(p: Principal, pattern: string, actions: readonly Action[] = ANY): boolean {
  return actions.some((a) => isAllowedPattern(p.rules, a, pattern))
}

/** Reading about a topic (describe, schemas) needs any right on it, or admin. */
export function requireVisible(p: Principal, topic: string): void {
  if (!canSee(p, topic)) requireTopic(p, 'admin', topic)
}
