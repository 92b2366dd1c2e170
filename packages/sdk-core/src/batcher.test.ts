import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type BatchItem, batchIsFull, splitIntoBatches } from './batcher'

const item = fc.record({
  topic: fc.constantFrom('a', 'b', 'c'),
  bytes: fc.integer({ min: 1, max: 500 }),
  n: fc.nat(),
})
const limits = fc.record({
  maxEvents: fc.integer({ min: 1, max: 20 }),
  maxBytes: fc.integer({ min: 1, max: 2000 }),
})

describe('batcher', () => {
  it('keeps every item once, in order, one topic per batch, within the limits', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 200 }), limits, (items, l) => {
        const batches = splitIntoBatches(items, l)
        expect(batches.flat()).toEqual(items)
        for (const b of batches) {
          expect(b.length).toBeGreaterThan(0)
          expect(b.length).toBeLessThanOrEqual(l.maxEvents)
          expect(new Set(b.map((x) => x.topic)).size).toBe(1)
          const bytes = b.reduce((s, x) => s + x.bytes, 0)
          // a lone oversized item still travels, alone
          if (b.length > 1) expect(bytes).toBeLessThanOrEqual(l.maxBytes)
        }
      }),
      { numRuns: 500 },
    )
  })

  it('never cuts a batch that could have taken the next item', () => {
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 100 }), limits, (items, l) => {
        const batches = splitIntoBatches(items, l)
        for (let i = 0; i + 1 < batches.length; i++) {
          const b = batches[i]!
          const next = batches[i + 1]![0]!
          const bytes = b.reduce((s, x) => s + x.bytes, 0)
          const couldTake =
            b.length < l.maxEvents && next.topic === b[0]!.topic && bytes + next.bytes <= l.maxBytes
          expect(couldTake).toBe(false)
        }
      }),
    )
  })

  it('calls a head batch full only when no further item could join it', () => {
    const x = (topic: string, bytes = 10): BatchItem => ({ topic, bytes })
    const l = { maxEvents: 3, maxBytes: 100 }
    expect(batchIsFull([x('a'), x('a')], l)).toBe(false)
    expect(batchIsFull([x('a'), x('a'), x('a')], l)).toBe(true)
    expect(batchIsFull([x('a'), x('b')], l)).toBe(true)
    expect(batchIsFull([x('a', 60), x('a', 60)], l)).toBe(true)
    expect(batchIsFull([], l)).toBe(false)
  })
})
