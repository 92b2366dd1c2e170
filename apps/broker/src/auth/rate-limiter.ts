import { QuestlogError } from '@questlog/protocol'
import type { Principal } from './principal'

interface Bucket {
  tokens: number
  at: number
}

/** Per-key token buckets for events/s and bytes/s; a burst of one second's worth is allowed. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()

  private take(id: string, rate: number, amount: number): number {
    const now = Date.now()
    const b = this.buckets.get(id) ?? { tokens: rate, at: now }
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate)
    b.at = now
    this.buckets.set(id, b)
    if (b.tokens >= amount || (b.tokens === rate && amount > rate)) {
      b.tokens -= amount
      return 0
    }
    return Math.ceil(((amount - b.tokens) / rate) * 1000)
  }

  /** Charges a publish to the caller's key; throws a 429 `rate_limited` error naming the wait when over. */
  charge(p: Principal, events: number, bytes: number): void {
    if (!p.keyId) return
    const waits = [
      p.rateEventsPerSec ? this.take(`${p.keyId}:events`, p.rateEventsPerSec, events) : 0,
      p.rateBytesPerSec ? this.take(`${p.keyId}:bytes`, p.rateBytesPerSec, bytes) : 0,
    ]
    const wait = Math.max(...waits)
    if (wait > 0) {
      throw new QuestlogError(
        'rate_limited',
        `key '${p.name}' is over its publish rate; retry in ${wait} ms`,
        {
          details: { retryAfterMs: wait },
        },
      )
    }
  }
}
