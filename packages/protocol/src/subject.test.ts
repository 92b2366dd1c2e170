import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  compileSubjectPattern,
  isValidSubject,
  matchSubject,
  subjectPatternError,
  subjectPatternToRegex,
} from './subject'

// A deliberately naive reference: walk the tokens recursively.
function reference(pattern: string[], subject: string[]): boolean {
  if (pattern.length === 0) return subject.length === 0
  const [head, ...rest] = pattern
  if (head === '>') return subject.length >= 1
  if (subject.length === 0) return false
  if (head !== '*' && head !== subject[0]) return false
  return reference(rest, subject.slice(1))
}

const token = fc.constantFrom('game', 'kill', 'score', 'a', 'b', 'chat', 'room-1', 'x_y')
const subjectArb = fc.array(token, { minLength: 1, maxLength: 5 })
const patternArb = fc
  .tuple(fc.array(fc.oneof(token, fc.constant('*')), { minLength: 0, maxLength: 5 }), fc.boolean())
  .filter(([tokens, tail]) => tokens.length > 0 || tail)
  .map(([tokens, tail]) => (tail ? [...tokens, '>'] : tokens))

describe('subject patterns', () => {
  it('agree with the reference matcher on every pair', () => {
    fc.assert(
      fc.property(patternArb, subjectArb, (pattern, subject) => {
        const expected = reference(pattern, subject)
        expect(matchSubject(pattern.join('.'), subject.join('.'))).toBe(expected)
        expect(new RegExp(subjectPatternToRegex(pattern.join('.'))).test(subject.join('.'))).toBe(expected)
      }),
      { numRuns: 2000 },
    )
  })

  it('a literal pattern matches only itself', () => {
    fc.assert(
      fc.property(subjectArb, subjectArb, (a, b) => {
        expect(matchSubject(a.join('.'), b.join('.'))).toBe(a.join('.') === b.join('.'))
      }),
    )
  })

  it('> matches one or more tokens but never zero', () => {
    expect(matchSubject('game.>', 'game.kill')).toBe(true)
    expect(matchSubject('game.>', 'game.kill.headshot')).toBe(true)
    expect(matchSubject('game.>', 'game')).toBe(false)
    expect(matchSubject('>', 'anything.at.all')).toBe(true)
  })

  it('* matches exactly one token', () => {
    expect(matchSubject('game.*', 'game.kill')).toBe(true)
    expect(matchSubject('game.*', 'game.kill.headshot')).toBe(false)
    expect(matchSubject('game.*.end', 'game.match.end')).toBe(true)
    expect(matchSubject('*', 'game')).toBe(true)
  })

  it('rejects malformed patterns with a reason', () => {
    expect(subjectPatternError('game..kill')).toMatch(/empty token/)
    expect(subjectPatternError('game.>.kill')).toMatch(/last token/)
    expect(subjectPatternError('game.ki*ll')).toMatch(/token 'ki\*ll'/)
    expect(subjectPatternError('')).toMatch(/empty/)
    expect(() => compileSubjectPattern('.game')).toThrow(/invalid subject pattern/)
  })

  it('validates subjects', () => {
    expect(isValidSubject('game.match.end')).toBe(true)
    expect(isValidSubject('game.*')).toBe(false)
    expect(isValidSubject('game.')).toBe(false)
  })
})
