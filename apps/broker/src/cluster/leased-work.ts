import type { Logger } from 'pino'
import { isLeaseLost, type Lease, type Leases } from './leases'

/** What one run of leased work ended with: `done` for good (its lease row goes), else it may run again. */
export type RunEnd = 'done' | 'again'

/** Work of one kind whose items each run on exactly one broker: the holder of the item's lease. */
export interface LeasedWork {
  /** Lease names of this kind start with it (`replay:`). */
  readonly prefix: string
  /** Every item of this kind that wants an owner now, by lease name, and whether its lease is free. */
  items(): Promise<Array<{ name: string; free: boolean }>>
  /**
   * Runs one item while `lease` holds: every write that must not happen twice is fenced by it
   * (`lease.fence(tx)`), and the run returns once `lease.signal` aborts.
   */
  run(name: string, lease: Lease): Promise<RunEnd>
  /** Whether a broker over its share gives items back (cheap to move: nothing in flight to resend). */
  readonly rebalance?: boolean
}

/**
 * Hands out leased work. Each heartbeat every kind's items are looked at and this broker takes
 * free ones up to its fair share (the items divided by the live brokers, rounded up), so work
 * spreads over the cluster and a dead broker's items move to live ones once their leases expire.
 * Work already held moves to a broker that joins later only where moving is cheap (`rebalance`).
 */
export class WorkClaimer {
  private readonly kinds: LeasedWork[] = []
  private readonly running = new Map<string, Promise<void>>()
  private stopped = false

  constructor(
    private readonly leases: Leases,
    private readonly liveBrokers: () => number,
    private readonly log: Logger,
  ) {}

  add(kind: LeasedWork): void {
    this.kinds.push(kind)
  }

  async tick(): Promise<void> {
    for (const kind of this.kinds) {
      await this.offer(kind).catch((err) => this.log.warn({ err, kind: kind.prefix }, 'claiming work failed'))
    }
  }

  /** Takes free items of `kind` up to this broker's share. */
  async offer(kind: LeasedWork): Promise<void> {
    if (this.stopped) return
    const items = await kind.items()
    const share = Math.ceil(items.length / Math.max(1, this.liveBrokers()))
    let mine = this.leases.count(kind.prefix)
    if (kind.rebalance && mine > share) {
      // one a heartbeat, so brokers that joined later take a share of it without a stampede
      const extra = items.find((i) => this.running.has(i.name))
      const lease = extra && this.leases.get(extra.name)
      if (lease) lease.lose('rebalanced to a broker with less work')
      return
    }
    for (const item of items) {
      if (mine >= share || this.stopped) return
      if (!item.free || this.running.has(item.name)) continue
      if (await this.claim(kind, item.name)) mine++
    }
  }

  /** Takes one item now if its lease is free (a job just created here starts here, at once). */
  async claim(kind: LeasedWork, name: string): Promise<boolean> {
    if (this.stopped || this.running.has(name)) return false
    const lease = await this.leases.acquire(name)
    if (!lease) return false
    const run = kind
      .run(name, lease)
      .catch((err): RunEnd => {
        if (!isLeaseLost(err)) this.log.error({ err, work: name }, 'leased work failed; it runs again')
        return 'again'
      })
      .then((end) => (end === 'done' ? this.leases.finish(lease) : this.leases.release(lease)))
      .catch((err) => this.log.warn({ err, work: name }, 'giving a lease up failed'))
      .finally(() => this.running.delete(name))
    this.running.set(name, run)
    return true
  }

  /** Whether this broker runs `name` now. */
  runs(name: string): boolean {
    return this.running.has(name)
  }

  /** Stops every run (their leases abort) and gives the leases up for the others to take at once. */
  async stop(): Promise<void> {
    this.stopped = true
    // runs stop first and give their leases up as they end, so nothing overlaps the next holder
    this.leases.abortAll('the broker is stopping')
    await Promise.allSettled(this.running.values())
    await this.leases.releaseAll()
  }
}
