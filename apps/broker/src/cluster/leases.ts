import type { Sql, TransactionSql } from '../storage/db'

/** The lease was taken over by another broker (or never renewed in time): stop, write nothing more. */
export class LeaseLostError extends Error {
  constructor(
    readonly lease: string,
    why: string,
  ) {
    super(`lease '${lease}' lost: ${why}`)
    this.name = 'LeaseLostError'
  }
}

export function isLeaseLost(e: unknown): e is LeaseLostError {
  return e instanceof LeaseLostError
}

/**
 * One piece of work this broker holds: a row of ql_leases with an expiry (by the database's
 * clock) that the heartbeat renews. Its epoch is unique for all time (a sequence), so a holder
 * that stalled past its expiry and was taken over can tell from the row that its turn is over.
 */
export class Lease {
  private readonly ctl = new AbortController()
  private timer: NodeJS.Timeout | undefined

  constructor(
    readonly name: string,
    readonly epoch: number,
    private readonly holder: string,
    /** performance.now() until which the lease is surely still ours. */
    private validUntil: number,
  ) {
    this.arm()
  }

  /** Aborted when the lease is lost, given up or the broker stops. */
  get signal(): AbortSignal {
    return this.ctl.signal
  }

  /**
   * Whether it is still ours as far as this broker can tell without asking: renewed within the
   * lease time (measured from before the renewal was sent, so never later than the row's expiry).
   */
  held(): boolean {
    return !this.ctl.signal.aborted && performance.now() < this.validUntil
  }

  /**
   * The fence of a write: inside the caller's transaction, takes a share lock on the lease row
   * and throws LeaseLostError unless it is still this holder's epoch. A takeover (an UPDATE of
   * the row) waits for the transaction, so every write that passed the fence commits before the
   * new holder starts, and none passes after. (A holder frozen inside such a transaction, which
   * lasts milliseconds, holds the takeover off until it runs again or its connection drops: late,
   * never twice.)
   */
  async fence(tx: TransactionSql): Promise<void> {
    if (this.ctl.signal.aborted) throw new LeaseLostError(this.name, 'given up')
    const [row] = await tx`
      SELECT 1 FROM ql_leases WHERE name = ${this.name} AND holder = ${this.holder} AND epoch = ${this.epoch}
      FOR SHARE`
    if (!row) {
      this.lose('another broker holds it now')
      throw new LeaseLostError(this.name, 'another broker holds it now')
    }
  }

  renewed(until: number): void {
    this.validUntil = until
    this.arm()
  }

  lose(why: string): void {
    clearTimeout(this.timer)
    if (!this.ctl.signal.aborted) this.ctl.abort(new LeaseLostError(this.name, why))
  }

  private arm(): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(
      () => this.lose('not renewed in time'),
      Math.max(0, this.validUntil - performance.now()),
    )
    this.timer.unref()
  }
}

/**
 * The leases this broker holds. `acquire` takes a free one (absent, or expired by the database's
 * clock); `renew`, once per heartbeat, extends all of them in one statement and drops those it
 * finds taken over; a lease not renewed within its time is dropped locally by its own timer, so a
 * broker cut off from the database stops working on it by the time another may start.
 */
export class Leases {
  private readonly held = new Map<string, Lease>()

  constructor(
    private readonly sql: Sql,
    readonly holder: string,
    readonly ttlMs: number,
  ) {}

  async acquire(name: string): Promise<Lease | undefined> {
    const mine = this.held.get(name)
    if (mine?.held()) return mine
    const t0 = performance.now()
    const [row] = await this.sql`
      INSERT INTO ql_leases AS l (name, holder, epoch, acquired_at, expires_at)
      VALUES (${name}, ${this.holder}, nextval('ql_lease_epochs'), now(), now() + make_interval(secs => ${this.ttlMs / 1000}))
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = excluded.epoch,
                                       acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
      WHERE l.expires_at <= now()
      RETURNING epoch`
    if (!row) return undefined
    mine?.lose('taken again')
    const lease = new Lease(name, Number(row.epoch), this.holder, t0 + this.ttlMs)
    this.held.set(name, lease)
    return lease
  }

  /** Extends every lease held; those taken over meanwhile are lost. */
  async renew(): Promise<void> {
    if (this.held.size === 0) return
    const t0 = performance.now()
    const names = [...this.held.keys()]
    const rows = await this.sql`
      UPDATE ql_leases SET expires_at = now() + make_interval(secs => ${this.ttlMs / 1000})
      WHERE holder = ${this.holder} AND name = ANY(${names}::text[]) RETURNING name, epoch`
    const epochs = new Map(rows.map((r) => [r.name as string, Number(r.epoch)]))
    // (a lease acquired while this ran is not among `names`: it is fresh anyway)
    for (const name of names) {
      const lease = this.held.get(name)
      if (!lease) continue
      if (epochs.get(name) === lease.epoch) lease.renewed(t0 + this.ttlMs)
      else {
        lease.lose('another broker holds it now')
        this.held.delete(name)
      }
    }
  }

  /** Gives a lease up: another broker may take it at once. */
  async release(lease: Lease): Promise<void> {
    lease.lose('given up')
    if (this.held.get(lease.name) === lease) this.held.delete(lease.name)
    await this.sql`UPDATE ql_leases SET expires_at = now()
                   WHERE name = ${lease.name} AND holder = ${this.holder} AND epoch = ${lease.epoch}`
  }

  /** The work is over for good (a finished job, a deleted subscription): its row goes. */
  async finish(lease: Lease): Promise<void> {
    lease.lose('finished')
    if (this.held.get(lease.name) === lease) this.held.delete(lease.name)
    await this.sql`DELETE FROM ql_leases WHERE name = ${lease.name} AND epoch = ${lease.epoch}`
  }

  /** The lease of `name`, if this broker holds it now. */
  get(name: string): Lease | undefined {
    const lease = this.held.get(name)
    return lease?.held() ? lease : undefined
  }

  /** How many leases whose names start with `prefix` this broker holds. */
  count(prefix: string): number {
    let n = 0
    for (const [name, lease] of this.held) if (name.startsWith(prefix) && lease.held()) n++
    return n
  }

  /** Stops work on every lease here, without telling the database yet. */
  abortAll(why: string): void {
    for (const lease of this.held.values()) lease.lose(why)
  }

  /** Gives every lease up (the broker is stopping): the others take them over at once. */
  async releaseAll(): Promise<void> {
    const all = [...this.held.values()]
    await Promise.allSettled(all.map((l) => this.release(l)))
  }
}

/** Which of `names` have no live lease now. */
export async function freeLeases(sql: Sql, names: string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set()
  const rows = await sql`
    SELECT n.name FROM unnest(${names}::text[]) AS n(name)
    LEFT JOIN ql_leases l ON l.name = n.name
    WHERE l.name IS NULL OR l.expires_at <= now()`
  return new Set(rows.map((r) => r.name as string))
}
