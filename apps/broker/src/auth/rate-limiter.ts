import { PayloadTooLargeError, QuestlogError } from '@questlog/protocol'
import type { Principal } from './principal'

interface Bucket {
  tokens: number
  at: number
}

interface Limit {
  /** What is limited, for messages: `events` or `bytes`. */
  unit: 'events' | 'bytes'
  rate: number
  amount: number
}

/**
 * Per-key token buckets for events/s and bytes/s. A bucket holds one second's
 * worth (the most a key may send at once) and a publish is charged whole: it
 * waits until the bucket holds all of it, and one larger than the bucket can
 * ever hold is refused outright instead of being let through on a full one.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()

  private refill(id: string, rate: number, now: number): Bucket {
    const b = this.buckets.get(id) ?? { tokens: rate, at: now }
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate)
    b.at = now
    this.buckets.set(id, b)
    return b
  }

  /** Charges a publish to the caller's key; 429 `rate_limited` naming the wait when over, 413 when it never fits. */
  charge(p: Principal, events: number, bytes: number): void {
    if (!p.keyId) return
    const limits: Limit[] = []
    if (p.rateEventsPerSec) limits.push({ unit: 'events', rate: p.rateEventsPerSec, amount: events })
    if (p.rateBytesPerSec) limits.push({ unit: 'bytes', rate: p.rateBytesPerSec, amount: bytes })
    for (const l of limits) {
      if (l.amount > l.rate) {
        throw new PayloadTooLargeError(
          `this publish is ${l.amount} ${l.unit}; key '${p.name}' may send at most ${l.rate} ${l.unit} at once (its rate per second): send smaller batches`,
          l.amount,
          l.rate,
          { setting: l.unit === 'events' ? 'rateEventsPerSec' : 'rateBytesPerSec' },
        )
      }
    }
    // every bucket must hold its share before any is charged: a refused publish costs nothing
    const now = Date.now()
    let wait = 0
    const buckets = limits.map((l) => {
      const b = this.refill(`${p.keyId}:${l.unit}`, l.rate, now)
      if (b.tokens < l.amount) wait = Math.max(wait, Math.ceil(((l.amount - b.tokens) / l.rate) * 1000))
      return b
    })
    if (wait > 0) {
      throw new QuestlogError(
        'rate_limited',
        `key '${p.name}' is over its publish rate; retry in ${wait} ms`,
        {
          details: { retryAfterMs: wait },
        },
      )
    }
    buckets.forEach((b, i) => {
      b.tokens -= limits[i]!.amount
    })
  }
}
