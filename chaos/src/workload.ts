import { isQuestlogError } from '@questlog/protocol'
import { createClient, type QuestlogClient } from '@questlog/sdk-node'

export interface Ack {
  partition: number
  offset: number
}

/** Every publish the load made: what was acked, what failed, and when. */
export class PublishLog {
  readonly acked = new Map<string, Ack>()
  readonly failed = new Map<string, string>()
  /** Publish start and settle times (performance.now()), by event id. */
  readonly started = new Map<string, number>()
  readonly settled = new Map<string, number>()
  /** Times of acks, in order. */
  readonly ackTimes: number[] = []

  /** The longest time without an ack between `from` and `to`. */
  longestAckGap(from: number, to: number): number {
    let last = from
    let gap = 0
    for (const t of this.ackTimes) {
      if (t < from) continue
      if (t > to) break
      gap = Math.max(gap, t - last)
      last = t
    }
    return Math.max(gap, to - last)
  }

  /** Time from `t` to the first ack of a publish started at or after `t` (undefined: none). */
  firstAckStartedAfter(t: number): number | undefined {
    let first: number | undefined
    for (const [id, s] of this.started) {
      if (s < t || !this.acked.has(id)) continue
      const at = this.settled.get(id)!
      if (first === undefined || at < first) first = at
    }
    return first === undefined ? undefined : first - t
  }

  /** Publishes started before `t` that settled later than `t + ms`, or never. */
  settledLaterThan(t: number, ms: number): number {
    let n = 0
    for (const [id, s] of this.started) {
      if (s > t) continue
      const at = this.settled.get(id)
      if (at === undefined || at > t + ms) n++
    }
    return n
  }
}

export interface LoadOptions {
  brokers: string[]
  token: string
  topic: string
  /** SDK clients publishing at once. */
  clients: number
  /** Publishes each client keeps in flight. */
  window: number
  keys: number
  /** Each client publishes to one partition (client number mod this) instead of by key. */
  pinToPartitions?: number
}

/**
 * SDK clients publishing as a game server does: keyed events, several in
 * flight, the SDK's own batching, retries and dedupe keys.
 */
export class PublishLoad {
  readonly log = new PublishLog()
  private stopping = false
  /** The publishing clients, for faults that follow them (which broker each is on). */
  readonly clients: QuestlogClient[] = []
  private readonly done: Promise<void>[] = []

  constructor(private readonly o: LoadOptions) {
    for (let c = 0; c < o.clients; c++) {
      const bus = createClient({
        brokers: o.brokers,
        token: o.token,
        backoff: { initialMs: 50, maxMs: 1000 },
        deliveryTimeoutMs: 120_000,
      })
      this.clients.push(bus)
      this.done.push(this.drive(bus, c))
    }
  }

  get ackedCount(): number {
    return this.log.acked.size
  }

  /** When the load stopped publishing. */
  stoppedAt = 0

  /** Stops publishing, waits (at most `maxWaitMs`) for every publish to settle, closes the clients. */
  async stop(maxWaitMs = 60_000): Promise<void> {
    this.stopping = true
    this.stoppedAt = performance.now()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.all(this.done), new Promise((r) => (timer = setTimeout(r, maxWaitMs)))])
    clearTimeout(timer)
    // what is still unsettled stays so: the checker counts it
    await Promise.race([
      Promise.all(this.clients.map((c) => c.close())),
      new Promise((r) => setTimeout(r, 5000)),
    ])
  }

  private async drive(bus: QuestlogClient, c: number): Promise<void> {
    const inFlight = new Set<Promise<void>>()
    let n = 0
    while (!this.stopping) {
      if (inFlight.size >= this.o.window) {
        await Promise.race(inFlight)
        continue
      }
      const id = `c${c}-${n}`
      const key = `k${(c * 7919 + n) % this.o.keys}`
      n++
      this.log.started.set(id, performance.now())
      const p: Promise<void> = bus
        .publish(
          this.o.topic,
          { id },
          this.o.pinToPartitions === undefined ? { key } : { key, partition: c % this.o.pinToPartitions },
        )
        .then(
          (r) => {
            this.log.acked.set(id, { partition: r.partition, offset: Number(r.offset) })
            this.log.ackTimes.push(performance.now())
          },
          (e) => {
            this.log.failed.set(id, isQuestlogError(e) ? e.code : String((e as Error).message))
          },
        )
        .finally(() => {
          this.log.settled.set(id, performance.now())
          inFlight.delete(p)
        })
      inFlight.add(p)
      // a little pacing keeps the load a game server's, not a benchmark's
      if (n % 20 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    await Promise.all(inFlight)
  }
}

/** Live readers of a topic from its start, as a dashboard or a match feed reads it. */
export class LiveReaders {
  readonly received: Array<Set<string>> = []
  /** Why each subscription ended early, if it did. */
  readonly ended: Array<string | undefined> = []
  /** The reading clients, for faults that follow them. */
  readonly clients: QuestlogClient[] = []
  private readonly subs: Array<{ close(): void }> = []
  private readonly loops: Promise<void>[] = []
  private closing = false

  constructor(brokers: string[], token: string, topic: string, count: number) {
    for (let i = 0; i < count; i++) {
      const bus = createClient({ brokers, token, backoff: { initialMs: 50, maxMs: 1000 } })
      this.clients.push(bus)
      const got = new Set<string>()
      this.received.push(got)
      this.ended.push(undefined)
      const sub = bus.subscribe<{ id: string }>(topic, { from: 'earliest' })
      this.subs.push(sub)
      this.loops.push(
        (async () => {
          try {
            for await (const e of sub) got.add(e.data.id)
            if (!this.closing) this.ended[i] = 'the subscription ended'
          } catch (e) {
            if (!this.closing) this.ended[i] = isQuestlogError(e) ? `${e.code}: ${e.message}` : String(e)
          }
        })(),
      )
    }
  }

  /** Waits until every reader has every id in `ids`, or `timeoutMs`; returns the count each still lacks. */
  async waitFor(ids: Iterable<string>, timeoutMs: number): Promise<number[]> {
    const want = [...ids]
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const missing = this.received.map((got) => want.filter((id) => !got.has(id)).length)
      if (missing.every((m) => m === 0) || performance.now() > deadline) return missing
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  async close(): Promise<void> {
    this.closing = true
    for (const s of this.subs) s.close()
    await Promise.race([Promise.all(this.loops), new Promise((r) => setTimeout(r, 5000))])
    await Promise.all(this.clients.map((c) => c.close()))
  }
}
