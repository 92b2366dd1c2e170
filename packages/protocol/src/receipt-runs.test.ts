import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Receipt } from './publish'
import { fromReceiptRuns, offsetAfter, toReceiptRuns } from './receipt-runs'

describe('receipt runs', () => {
  it('adds to offsets past 2^53 without losing digits', () => {
    expect(offsetAfter('41', 2)).toBe('43')
    expect(offsetAfter('9007199254740993', 1)).toBe('9007199254740994')
  })

  it('stand for exactly the receipts they were made from', () => {
    const receipt = fc.record({
      partition: fc.integer({ min: 0, max: 2 }),
      step: fc.constantFrom(0, 1, 1, 1, 2),
      duplicate: fc.constantFrom(false, false, false, false, false, false, false, false, false, true),
      ownId: fc.constantFrom(true, true, true, true, true, true, true, true, true, false),
      big: fc.constantFrom(false, false, false, false, false, false, false, false, false, true),
    })
    fc.assert(
      fc.property(fc.array(receipt, { maxLength: 60 }), (specs) => {
        const ids = specs.map((_, i) => `e${i}`)
        let offset = 0n
        const receipts: Receipt[] = specs.map((s, i) => {
          offset += BigInt(s.step)
          return {
            id: s.ownId ? ids[i]! : `other${i}`,
            partition: s.partition,
            offset: String(s.big ? offset + 9007199254740990n : offset),
            duplicate: s.duplicate,
          }
        })
        const runs = toReceiptRuns(receipts, ids)
        expect(fromReceiptRuns(runs, ids)).toEqual(receipts)
        // every run is as long as it can be: two neighbours never continue each other
        for (let i = 1; i < runs.length; i++) {
          const a = runs[i - 1]
          const b = runs[i]
          if (Array.isArray(a) && Array.isArray(b))
            expect(a[0] === b[0] && offsetAfter(a[1], a[2]) === b[1]).toBe(false)
        }
      }),
    )
  })

  it('makes one run of a batch stored in one piece', () => {
    const ids = ['a', 'b', 'c']
    const receipts = ids.map((id, i) => ({ id, partition: 3, offset: String(10 + i), duplicate: false }))
    expect(toReceiptRuns(receipts, ids)).toEqual([[3, '10', 3]])
  })
})
