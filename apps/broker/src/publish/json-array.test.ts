import { MAX_JSON_DEPTH } from '@questlog/protocol'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { splitJsonArray } from './json-array'

/** What JSON.parse makes of the text, when it is an array of finite JSON (the scanner's contract). */
function parsedArray(text: string): unknown[] | undefined {
  try {
    let finite = true
    const v = JSON.parse(text, (_, x) => {
      if (typeof x === 'number' && !Number.isFinite(x)) finite = false
      return x
    })
    return Array.isArray(v) && finite ? v : undefined
  } catch {
    return undefined
  }
}

describe('splitJsonArray', () => {
  it('gives each element of a JSON array as its own text, however the array is written', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue()),
        fc.constantFrom(undefined, 1, 2, '\t', ' \r\n'),
        (values, indent) => {
          const text = JSON.stringify(values, null, indent)
          const r = splitJsonArray(text)
          expect(r.ok).toBe(true)
          if (!r.ok) return
          expect(r.items).toHaveLength(values.length)
          expect(r.items.map((t) => JSON.parse(t))).toEqual(JSON.parse(text))
        },
      ),
    )
  })

  it('accepts exactly what JSON.parse accepts as an array, for any text and for damaged arrays', () => {
    const damaged = fc
      .tuple(fc.array(fc.jsonValue(), { minLength: 1 }), fc.nat(), fc.string({ maxLength: 3 }))
      .map(([values, at, insert]) => {
        const text = JSON.stringify(values)
        const i = at % text.length
        return text.slice(0, i) + insert + text.slice(i + (at % 2))
      })
    fc.assert(
      fc.property(fc.oneof(fc.string(), damaged), (text) => {
        const expected = parsedArray(text)
        const r = splitJsonArray(text)
        expect(r.ok).toBe(expected !== undefined)
        if (r.ok) expect(r.items.map((t) => JSON.parse(t))).toEqual(expected)
      }),
      { numRuns: 2000 },
    )
  })

  it('names the element a problem is in', () => {
    expect(splitJsonArray('[{"a":1},{"a":tru},3]')).toMatchObject({ ok: false, index: 1 })
    expect(splitJsonArray('[1,"a\u0001b"]')).toMatchObject({ ok: false, index: 1 })
    expect(splitJsonArray('[01]')).toMatchObject({ ok: false })
    expect(splitJsonArray('[1e400]')).toMatchObject({ ok: false, index: 0 })
    expect(splitJsonArray('[1,2')).toMatchObject({ ok: false, index: -1 })
    expect(splitJsonArray('[1] x')).toMatchObject({ ok: false, index: -1 })
    expect(splitJsonArray(' [ ] ')).toEqual({ ok: true, items: [] })
  })

  it('keeps each element exactly as written: white space inside, escapes and number forms', () => {
    const r = splitJsonArray('[ {"a" : "\\u00e9\\/"} ,1E2,-0.5e-1 ]')
    expect(r).toEqual({ ok: true, items: ['{"a" : "\\u00e9\\/"}', '1E2', '-0.5e-1'] })
  })

  it('checks nested elements up to the depth limit, and refuses deeper ones without recursing', () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`
    const deepest = nested(MAX_JSON_DEPTH)
    expect(splitJsonArray(`[${deepest},1]`)).toEqual({ ok: true, items: [deepest, '1'] })
    expect(splitJsonArray(`[${deepest.slice(1)},1]`)).toMatchObject({ ok: false })
    expect(splitJsonArray(`[1,${nested(MAX_JSON_DEPTH + 1)}]`)).toMatchObject({
      ok: false,
      index: 1,
      message: expect.stringMatching(/nested deeper than/),
    })
    expect(splitJsonArray(`[${nested(1_000_000)}]`)).toMatchObject({ ok: false, index: 0 })
  })
})
