import { QuestlogError } from '@questlog/protocol'
import type { Sql } from '../storage/db'

interface Slots {
  /** Sessions of this key and kind open on this broker. */
  held: number
  /** Slots of the key's quota this broker leased (ql_quota_slots): `held` never passes it. */
  leased: number
  leasing?: Promise<void> | undefined
}

/**
 * A key's quota of open sessions for the whole cluster. Each broker leases slots of it from the
 * database (one round trip per lease, a twentieth of the quota at a time, never past what the
 * live brokers leased together) and opens sessions within its lease; each heartbeat it gives back
 * what it leased beyond its open sessions. A broker that dies takes its slots with
 * it: they count for nobody once the registry finds it dead.
 */
export class QuotaSlots {
  private readonly slots = new Map<string, Slots>()
  private trims = 0

  constructor(
    private readonly sql: Sql,
    private readonly brokerId: string,
    private readonly deadAfterMs: number,
  ) {}

  /** Takes one slot of `keyId`'s quota `kind` of `limit`; false when the cluster holds them all. */
  async take(keyId: string, kind: string, limit: number): Promise<boolean> {
    const k = `${keyId}\u0000${kind}`
    let s = this.slots.get(k)
    if (!s) {
      s = { held: 0, leased: 0 }
      this.slots.set(k, s)
    }
    for (let round = 0; round < 3; round++) {
      if (s.held < s.leased) {
        s.held++
        return true
      }
      if (!s.leasing) s.leasing = this.lease(keyId, kind, limit, s).finally(() => (s.leasing = undefined))
      await s.leasing
    }
    return false
  }

  give(keyId: string, kind: string): void {
    const s = this.slots.get(`${keyId}\u0000${kind}`)
    if (s && s.held > 0) s.held--
  }

  /** Gives back slots leased beyond the sessions open; each heartbeat. */
  async trim(): Promise<void> {
    for (const [k, s] of this.slots) {
      if (s.leasing) continue
      const [keyId, kind] = k.split('\u0000') as [string, string]
      const keep = s.held
      if (s.leased <= keep) continue
      s.leased = keep
      await this.sql`UPDATE ql_quota_slots SET slots = ${keep}
                     WHERE key_id = ${keyId} AND kind = ${kind} AND broker_id = ${this.brokerId}`
    }
    // rows of brokers long gone from the registry (it forgets them after an hour), now and then
    if (++this.trims % 300 === 0) {
      await this.sql`DELETE FROM ql_quota_slots q
                     WHERE q.slots = 0 OR NOT EXISTS (SELECT 1 FROM ql_brokers b WHERE b.id = q.broker_id)`
    }
  }

  private async lease(keyId: string, kind: string, limit: number, s: Slots): Promise<void> {
    const want = Math.max(1, Math.floor(limit / 20))
    try {
      const [row] = await this.sql`
        SELECT ql_quota_take(${keyId}, ${kind}, ${this.brokerId}, ${limit}, ${want}, ${this.deadAfterMs / 1000}) AS slots`
      s.leased = Math.max(s.held, Number(row!.slots))
    } catch (e) {
      throw new QuestlogError('unavailable', 'the quota could not be checked: the database did not answer', {
        cause: e,
      })
    }
  }
}
