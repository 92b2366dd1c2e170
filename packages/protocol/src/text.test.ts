import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_JSON_DEPTH, nestsDeeperThan, singleLineJson, textProblem } from './text'

describe('textProblem', () => {
  it('accepts every well-formed string without NUL, and what PostgreSQL stores it reads back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        fc.pre(!s.includes('\u0000'))
        expect(textProblem(s)).toBeNull()
        // UTF-8 round trip: nothing replaced
        expect(Buffer.from(s, 'utf8').toString('utf8')).toBe(s)
      }),
    )
  })

  it('refuses NUL and lone surrogates anywhere, and nothing else', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const storable = !s.includes('\u0000') && Buffer.from(s, 'utf8').toString('utf8') === s
        expect(textProblem(s) === null).toBe(storable)
      }),
    )
    expect(textProblem('a\u0000b')).toMatch(/NUL/)
    expect(textProblem('\ud800')).toMatch(/surrogate/)
    expect(textProblem('x\udc00')).toMatch(/surrogate/)
    expect(textProblem('\ud83d\ude00')).toBeNull()
  })
})

describe('nestsDeeperThan', () => {
  const nested = (depth: number): unknown => {
    let v: unknown = 1
    for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { v }
    return v
  }
  it('counts the nesting of arrays and objects, without recursing', () => {
    expect(nestsDeeperThan(1, 0)).toBe(false)
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false)
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true)
    expect(nestsDeeperThan(nested(1_000_000), MAX_JSON_DEPTH)).toBe(true)
    expect(nestsDeeperThan({ a: [1, 2, { b: 3 }], c: 'x' }, 3)).toBe(false)
    expect(nestsDeeperThan({ a: [1, 2, { b: [3] }] }, 3)).toBe(true)
  })
})

describe('singleLineJson', () => {
  it('keeps the value of any JSON text and puts it on one line', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 2, '\t', '\r\n'), (v, indent) => {
        const text = JSON.stringify(v, null, indent as never) ?? 'null'
        const one = singleLineJson(text.replaceAll('\n', '\r\n'))
        expect(one).not.toMatch(/[\r\n]/)
        expect(JSON.parse(one)).toEqual(JSON.parse(text))
      }),
    )
  })
})
