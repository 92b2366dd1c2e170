import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backoffDelay, RetryBudget } from './retry'

describe('backoffDelay', () => {
  it('stays in [0, min(max, initial·2^attempt)) with full jitter', () => {
    fc.assert(
      fc.property(fc.nat(60), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(attempt, { initialMs: 100, maxMs: 5000 }, () => r)
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThan(Math.min(5000, 100 * 2 ** attempt))
      }),
    )
  })

  it('grows with the attempt when the random pick is fixed', () => {
    const at = (n: number) => backoffDelay(n, { initialMs: 100, maxMs: 5000 }, () => 0.5)
    expect([at(0), at(1), at(2), at(3), at(10)]).toEqual([50, 100, 200, 400, 2500])
  })
})

describe('RetryBudget', () => {
  it('allows the floor plus a share of requests, then refuses until the window moves on', () => {
    let now = 0
    const budget = new RetryBudget({ minPerSecond: 1, ratio: 0.5, windowMs: 2000 }, () => now)
    for (let i = 0; i < 4; i++) budget.request()
    // floor 2 (1/s over 2 s) + 0.5 × 4 requests = 4 retries
    const granted = Array.from({ length: 6 }, () => budget.tryRetry())
    expect(granted).toEqual([true, true, true, true, false, false])
    now = 2500
    expect(budget.tryRetry()).toBe(true)
  })
})
