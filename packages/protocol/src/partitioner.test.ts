import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { partitionForKey } from './partitioner'

describe('partitionForKey', () => {
  it('is in range and deterministic', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 256 }), (key, n) => {
        const p = partitionForKey(key, n)
        expect(p).toBeGreaterThanOrEqual(0)
        expect(p).toBeLessThan(n)
        expect(partitionForKey(key, n)).toBe(p)
      }),
    )
  })

  it('spreads player ids evenly over 8 partitions', () => {
    const counts = new Array<number>(8).fill(0)
    for (let i = 0; i < 8000; i++) counts[partitionForKey(`player-${i}`, 8)]! += 1
    for (const c of counts) {
      expect(c).toBeGreaterThan(800)
      expect(c).toBeLessThan(1200)
    }
  })
})
