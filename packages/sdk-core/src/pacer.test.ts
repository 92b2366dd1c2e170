import { describe, expect, it } from 'vitest'
import { Pacer } from './pacer'

describe('Pacer', () => {
  it('pauses for a soft-accept hint and a refusal, and caps the rate when told', () => {
    let now = 1000
    const p = new Pacer(100, () => now)
    expect(p.delayFor(10)).toBe(0)
    p.onHint({ retryAfterMs: 200, reason: 'queue deep' })
    expect(p.delayFor(10)).toBe(200)
    now += 150
    expect(p.delayFor(10)).toBe(50)
    p.onRefused(1000)
    expect(p.delayFor(10)).toBe(1000)
    now += 1000
    p.sent()
    p.onHint({ retryAfterMs: 0, suggestedRate: 100, reason: 'slow' })
    // 50 events at 100/s: half a second after the last send
    expect(p.delayFor(50)).toBe(500)
    p.onClear()
    expect(p.delayFor(50)).toBe(0)
    expect(p.slowdowns).toBe(3)
  })
})
