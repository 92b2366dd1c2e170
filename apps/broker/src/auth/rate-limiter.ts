import { PayloadTooLargeError, QuestlogError } from '@questlog/protocol'
import type { Sql } from '../storage/db'
import type { Principal } from './principal'

interface Limit {
  /** What is limited, for messages: `events` or `bytes`. */
  unit: 'events' | 'bytes'
  rate: number
  amount: number
}

/** Tokens this broker took from a key's bucket in the database, spent here until they lapse. */
interface Share {
  tokens: number
  /** performance.now() after which unspent tokens are dropped: a second's worth is the most a key bursts. */
  until: number
  /** The take in flight, which concurrent publishes of this key wait for rather than take again. */
  taking?: Promise<TakeAnswer> | undefined
}

interface TakeAnswer {
  granted: number
  /** What the bucket held after the take: with `granted` 0, how far it is from the need. */
  available: number
}

/** A take asks for this fraction of a second's worth beyond its need, so most publishes find tokens here. */
const CHUNK = 0.1
const SHARE_MS = 1000

/**
 * Per-key rate limits of events/s and bytes/s, held for the whole cluster. A key's bucket is a
 * row in PostgreSQL (ql_rate_buckets: a second's worth at most, refilled at its rate by the
 * database's clock); each broker takes tokens from it in chunks of a tenth of a second's worth
 * and spends them locally, so a publish costs a round trip only when its broker's share ran out
 * (a few times a second for a key at its limit), and the key gets its rate across all brokers
 * together, not once per broker. A publish is charged whole: it is refused (429 `rate_limited`
 * with the wait) unless every bucket holds all of it, and a publish larger than a bucket can ever
 * hold is refused outright (413). Tokens a broker took and did not spend lapse after a second.
 */
export class RateLimiter {
  private readonly shares = new Map<string, Share>()

  constructor(private readonly sql: Sql) {}

  /** Charges a publish to the caller's key; 429 `rate_limited` naming the wait when over, 413 when it never fits. */
  async charge(p: Principal, events: number, bytes: number): Promise<void> {
    if (!p.keyId) return
    const limits: Limit[] = []
    if (p.rateEventsPerSec) limits.push({ unit: 'events', rate: p.rateEventsPerSec, amount: events })
    if (p.rateBytesPerSec) limits.push({ unit: 'bytes', rate: p.rateBytesPerSec, amount: bytes })
    if (limits.length === 0) return
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
    // every share must hold its part before any is charged: a refused publish costs nothing
    for (let round = 0; ; round++) {
      const shares = limits.map((l) => this.share(`${p.keyId}:${l.unit}`))
      const short = limits.filter((l, i) => shares[i]!.tokens < l.amount)
      if (short.length === 0) {
        shares.forEach((s, i) => {
          s.tokens -= limits[i]!.amount
        })
        return
      }
      let wait = 0
      await Promise.all(
        short.map(async (l) => {
          const key = `${p.keyId}:${l.unit}`
          const s = this.share(key)
          const answer = await this.take(p.keyId!, key, l, s)
          if (answer.granted === 0)
            wait = Math.max(wait, Math.ceil(((l.amount - s.tokens - answer.available) / l.rate) * 1000))
        }),
      )
      // a take another publish used up first is tried again, a few times
      if (wait > 0 || round >= 3) {
        throw new QuestlogError(
          'rate_limited',
          `key '${p.name}' is over its publish rate; retry in ${Math.max(1, wait)} ms`,
          { details: { retryAfterMs: Math.max(1, wait) } },
        )
      }
    }
  }

  private share(key: string): Share {
    let s = this.shares.get(key)
    const now = performance.now()
    if (!s) {
      s = { tokens: 0, until: now + SHARE_MS }
      this.shares.set(key, s)
    } else if (now > s.until && !s.taking) {
      s.tokens = 0
    }
    return s
  }

  /** Takes at least what `l` lacks here (and a chunk more if the bucket has it) into the share. */
  private async take(keyId: string, key: string, l: Limit, s: Share): Promise<TakeAnswer> {
    if (s.taking) return s.taking
    const need = Math.max(0, l.amount - s.tokens)
    const want = Math.max(need, l.rate * CHUNK)
    s.taking = (async () => {
      try {
        const [row] = await this.sql`
          SELECT granted, available FROM ql_rate_take(${keyId}, ${l.unit}, ${l.rate}, ${need}, ${want})`
        const answer = { granted: Number(row!.granted), available: Number(row!.available) }
        if (answer.granted > 0) {
          s.tokens += answer.granted
          s.until = performance.now() + SHARE_MS
        }
        return answer
      } catch (e) {
        throw new QuestlogError(
          'unavailable',
          'the rate limit could not be checked: the database did not answer',
          {
            cause: e,
          },
        )
      } finally {
        s.taking = undefined
      }
    })()
    return s.taking
  }
}
