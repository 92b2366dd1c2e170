import { z } from 'zod'
import { compileSubjectPattern, subjectPatternError } from './subject'

/** `presence`: enter and watch presence channels (see presence.ts); named like topics, matched by the same patterns. */
export const ACTIONS = ['publish', 'subscribe', 'admin', 'presence'] as const
export type Action = (typeof ACTIONS)[number]

const topicPattern = z.string().superRefine((v, ctx) => {
  const problem = subjectPatternError(v)
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

/** One permission rule of a key: allow or deny some actions on topics matching patterns. */
export const aclRuleSchema = z.strictObject({
  effect: z.enum(['allow', 'deny']).default('allow'),
  actions: z.array(z.enum(ACTIONS)).min(1),
  /** Topic names or NATS-style patterns: `game.*`, `chat.>`, `>` for all. */
  topics: z.array(topicPattern).min(1),
})

export type AclRule = z.output<typeof aclRuleSchema>

/**
 * Whether `rules` let `action` happen on `topic`: deny beats allow, and no
 * matching rule means denied. `admin` does not imply the others.
 */
export function isAllowed(rules: readonly AclRule[], action: Action, topic: string): boolean {
  let allowed = false
  for (const r of rules) {
    if (!r.actions.includes(action) || !r.topics.some((p) => compileSubjectPattern(p)(topic))) continue
    if (r.effect === 'deny') return false
    allowed = true
  }
  return allowed
}

/**
 * Whether every topic matching `inner` also matches `outer` (so a grant on
 * `outer` covers a request over the whole pattern `inner`).
 */
export function patternCovers(outer: string, inner: string): boolean {
  const o = outer.split('.')
  const i = inner.split('.')
  for (let k = 0; k < o.length; k++) {
    const ot = o[k]!
    if (ot === '>') return k < i.length
    const it = i[k]
    if (it === undefined) return false
    if (it === '>') return false
    if (ot === '*') continue
    if (it === '*' || it !== ot) return false
  }
  return o.length === i.length
}

/**
 * Whether `rules` let `action` happen on every topic `pattern` can match:
 * some allow rule covers the whole pattern, and no deny rule can match any of it.
 */
export function isAllowedPattern(rules: readonly AclRule[], action: Action, pattern: string): boolean {
  const relevant = rules.filter((r) => r.actions.includes(action))
  const denied = relevant.some(
    (r) => r.effect === 'deny' && r.topics.some((p) => patternsOverlap(p, pattern)),
  )
  if (denied) return false
  return relevant.some((r) => r.effect === 'allow' && r.topics.some((p) => patternCovers(p, pattern)))
}

/** Whether some topic matches both patterns. */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split('.')
  const y = b.split('.')
  for (let k = 0; ; k++) {
    const xt = x[k]
    const yt = y[k]
    if (xt === '>' || yt === '>') return (xt === '>' ? y.length : x.length) > k || xt === yt
    if (xt === undefined || yt === undefined) return xt === yt
    if (xt !== '*' && yt !== '*' && xt !== yt) return false
  }
}

const quota = z.number().int().min(0).max(1_000_000)

/**
 * What one key (and the tokens it mints) may hold at once; each unset one is
 * the broker's default (see the broker's configuration). Keys with `admin` on
 * every topic (operators) are not bound by quotas.
 */
export const keyQuotasSchema = z.strictObject({
  /** Topics it created. */
  topics: quota.optional(),
  /** Partitions of the topics it created, together. */
  partitions: quota.optional(),
  /** Subscriptions it created. */
  subscriptions: quota.optional(),
  /** Server-Sent Event streams open at once. */
  streams: quota.optional(),
  /** WebSocket connections open at once. */
  connections: quota.optional(),
  /** Publishes waiting for their confirmations (`?confirm=`) at once. */
  confirmations: quota.optional(),
})

export type KeyQuotas = z.output<typeof keyQuotasSchema>
export type QuotaName = keyof KeyQuotas

export const createKeySchema = z.strictObject({
  name: z.string().min(1).max(200),
  rules: z.array(aclRuleSchema).min(1).max(100),
  /** The key stops working at this time. */
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  /** Most events per second this key may publish; 429 with Retry-After past it. */
  rateEventsPerSec: z.number().int().min(1).max(10_000_000).optional(),
  /** Most payload bytes per second this key may publish. */
  rateBytesPerSec: z.number().int().min(1).max(10_000_000_000).optional(),
  /** Quotas of its own instead of the broker's defaults. */
  quotas: keyQuotasSchema.optional(),
})

export type CreateKey = z.output<typeof createKeySchema>

/** A short-lived token a game backend mints with its key for a browser; its rules must be within the key's. */
export const createTokenSchema = z.strictObject({
  ttlSeconds: z.number().int().min(10).max(86_400).default(900),
  rules: z.array(aclRuleSchema).min(1).max(100).optional(),
})
