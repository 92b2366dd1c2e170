import { describe, expect, it } from 'vitest'
import { cdfPoints, median, percentileSorted, spread } from './stats'

describe('median', () => {
  it('takes the middle of an odd count and the mean of the middle pair of an even one', () => {
    expect(median([5, 1, 3])).toBe(3)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(Number.isNaN(median([]))).toBe(true)
  })

  it('does not reorder its input', () => {
    const v = [3, 1, 2]
    median(v)
    expect(v).toEqual([3, 1, 2])
  })
})

describe('spread', () => {
  it('reports median, min and max', () => {
    expect(spread([10, 30, 20])).toEqual({ median: 20, min: 10, max: 30, n: 3 })
  })
})

describe('percentileSorted', () => {
  const v = Array.from({ length: 1000 }, (_, i) => i + 1)

  it('uses nearest rank', () => {
    expect(percentileSorted(v, 50)).toBe(500)
    expect(percentileSorted(v, 99)).toBe(990)
    expect(percentileSorted(v, 99.9)).toBe(999)
    expect(percentileSorted(v, 100)).toBe(1000)
    expect(percentileSorted(v, 0)).toBe(1)
  })

  it('gives the only value for a single sample', () => {
    expect(percentileSorted([7], 99.9)).toBe(7)
  })
})

describe('cdfPoints', () => {
  it('rises to 1 at the largest value and never falls', () => {
    const pts = cdfPoints([1, 2, 2, 3, 9, 10, 11], 3)
    expect(pts[pts.length - 1]).toEqual([11, 1])
    for (let i = 1; i < pts.length; i++) {
      expect(pts[i]![0]).toBeGreaterThanOrEqual(pts[i - 1]![0])
      expect(pts[i]![1]).toBeGreaterThan(pts[i - 1]![1])
    }
  })
})
