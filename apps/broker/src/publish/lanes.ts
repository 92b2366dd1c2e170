import type { Sql } from '../storage/db'
import type { WriteLane } from '../storage/write-lane'

/** A partition away from its shared lane, and when it last wrote. */
interface Isolated {
  lane: WriteLane
  usedAt: number
  idle: () => boolean
}

export interface LanesOptions {
  /** The shared write connections; a partition's home among them is fixed by its key. */
  shared: WriteLane[]
  /** Opens a connection of its own for one partition (no short lock wait there). */
  openIsolated: (key: string) => WriteLane
  /** An isolated partition idle this long goes back to its shared lane. */
  idleMs?: number
}

/**
 * The write connections partitions write on. PostgreSQL runs what one
 * connection was sent in the order sent, so partitions sharing a connection
 * share its waits. Brokers writing one partition hold its row lock for
 * milliseconds; a lock held longer belongs to something else (an operator's
 * transaction, a stuck client). So appends on a shared connection wait for the
 * lock only briefly (`lockWaitMs`), and a partition whose append waited that out
 * is given a connection of its own, where it may wait as long as it must while
 * the partitions it shared with go on, and goes back once it has been idle.
 */
export class WriteLanes {
  private readonly isolated = new Map<string, Isolated>()
  private readonly timer: NodeJS.Timeout
  private readonly idleMs: number

  constructor(private readonly o: LanesOptions) {
    this.idleMs = o.idleMs ?? 30_000
    this.timer = setInterval(() => this.reclaim(), Math.min(5000, this.idleMs))
    this.timer.unref()
  }

  /** The connection a partition writes on now (`home` picks its shared one). */
  of(key: string, home: number): Sql {
    const own = this.isolated.get(key)
    if (own) {
      own.usedAt = Date.now()
      return own.lane.sql
    }
    return this.o.shared[home % this.o.shared.length]!.sql
  }

  /**
   * Gives a partition a connection of its own. Call it only between sends:
   * what the partition sent before still runs on the old one, in order.
   * `idle` says when it has nothing queued or in flight, so it can move back.
   */
  isolate(key: string, idle: () => boolean): void {
    if (this.isolated.has(key)) return
    this.isolated.set(key, { lane: this.o.openIsolated(key), usedAt: Date.now(), idle })
  }

  /** Whether a partition writes on a connection of its own. */
  isIsolated(key: string): boolean {
    return this.isolated.has(key)
  }

  /**
   * Longest a shared connection has held statements without one settling (0
   * when none is stalled). An isolated one waits on a lock by design: it stalls
   * its own partition, not the broker (its watchdog still replaces it if it wedges).
   */
  stalledMs(): number {
    let ms = 0
    for (const lane of this.o.shared) ms = Math.max(ms, lane.stalledMs())
    return ms
  }

  /** Connections replaced by their watchdogs since start. */
  get replaced(): number {
    let n = 0
    for (const lane of this.o.shared) n += lane.replaced
    for (const { lane } of this.isolated.values()) n += lane.replaced
    return n
  }

  async end(): Promise<void> {
    clearInterval(this.timer)
    const all = [...this.o.shared, ...[...this.isolated.values()].map((i) => i.lane)]
    this.isolated.clear()
    await Promise.all(all.map((lane) => lane.end()))
  }

  private reclaim(): void {
    const now = Date.now()
    for (const [key, own] of this.isolated) {
      if (now - own.usedAt < this.idleMs || !own.idle()) continue
      this.isolated.delete(key)
      void own.lane.end().catch(() => {})
    }
  }
}
