import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type AclRule, type Action, isAllowed, isAllowedPattern, patternCovers, patternsOverlap } from './acl'

// Reference: a literal reading of the rules on one topic, token by token.
function refMatch(pattern: string[], subject: string[]): boolean {
  if (pattern.length === 0) return subject.length === 0
  const [head, ...rest] = pattern
  if (head === '>') return subject.length >= 1
  if (subject.length === 0) return false
  return (head === '*' || head === subject[0]) && refMatch(rest, subject.slice(1))
}

function refAllowed(rules: AclRule[], action: Action, topic: string): boolean {
  const hits = rules.filter(
    (r) => r.actions.includes(action) && r.topics.some((p) => refMatch(p.split('.'), topic.split('.'))),
  )
  return hits.length > 0 && hits.every((r) => r.effect === 'allow')
}

const token = fc.constantFrom('game', 'chat', 'kill', 'room', 'eu', 'a')
const topicArb = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'))
const patternArb = fc
  .tuple(fc.array(fc.oneof(token, fc.constant('*')), { minLength: 0, maxLength: 3 }), fc.boolean())
  .filter(([t, tail]) => t.length > 0 || tail)
  .map(([t, tail]) => (tail ? [...t, '>'] : t).join('.'))
const actionArb = fc.constantFrom<Action>('publish', 'subscribe', 'admin', 'presence')
const ruleArb: fc.Arbitrary<AclRule> = fc.record({
  effect: fc.constantFrom<'allow' | 'deny'>('allow', 'deny'),
  actions: fc.uniqueArray(actionArb, { minLength: 1, maxLength: 3 }),
  topics: fc.array(patternArb, { minLength: 1, maxLength: 3 }),
})

describe('ACL matcher', () => {
  it('agrees with a reference matcher: deny wins, no rule means denied', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 5 }), actionArb, topicArb, (rules, action, topic) => {
        expect(isAllowed(rules, action, topic)).toBe(refAllowed(rules, action, topic))
      }),
      { numRuns: 3000 },
    )
  })

  it('pattern coverage and overlap agree with matching every sampled topic', () => {
    fc.assert(
      fc.property(
        patternArb,
        patternArb,
        fc.array(topicArb, { minLength: 30, maxLength: 30 }),
        (outer, inner, topics) => {
          const m = (p: string, t: string) => refMatch(p.split('.'), t.split('.'))
          if (patternCovers(outer, inner))
            for (const t of topics) if (m(inner, t)) expect(m(outer, t)).toBe(true)
          for (const t of topics)
            if (m(outer, t) && m(inner, t)) expect(patternsOverlap(outer, inner)).toBe(true)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('edges: > needs a token, * is one token, admin does not imply publish', () => {
    const rules: AclRule[] = [
      { effect: 'allow', actions: ['publish'], topics: ['game.>'] },
      { effect: 'deny', actions: ['publish'], topics: ['game.admin.*'] },
      { effect: 'allow', actions: ['admin'], topics: ['chat.*'] },
    ]
    expect(isAllowed(rules, 'publish', 'game.kill')).toBe(true)
    expect(isAllowed(rules, 'publish', 'game')).toBe(false)
    expect(isAllowed(rules, 'publish', 'game.admin.ban')).toBe(false)
    expect(isAllowed(rules, 'publish', 'game.admin.ban.x')).toBe(true)
    expect(isAllowed(rules, 'admin', 'chat.room')).toBe(true)
    expect(isAllowed(rules, 'admin', 'chat.room.1')).toBe(false)
    expect(isAllowed(rules, 'publish', 'chat.room')).toBe(false)
    expect(isAllowedPattern(rules, 'publish', 'game.*')).toBe(true)
    expect(isAllowedPattern(rules, 'publish', 'game.>')).toBe(false) // overlaps the denied game.admin.*
    expect(isAllowedPattern(rules, 'admin', 'chat.>')).toBe(false)
  })
})
