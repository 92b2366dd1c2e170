import type { Sql } from '../storage/db'
import {
  assignedPartitions,
  type Claimed,
  type Commit,
  claimPartitions,
  commitPartitions,
  type GroupRef,
  groupView,
  heartbeatMember,
  leaveGroup,
  type PartitionState,
  releasePartitions,
} from './consumer-offsets'

/** What a member's subscription does as its partitions come and go. */
export interface GroupHost {
  /** Where each of these partitions stands now (read synchronously, with the acks so far). */
  states(partitions: number[]): Map<number, PartitionState>
  /** Stops serving these partitions: their un-acked events are no longer this member's. */
  revoke(partitions: number[]): void
  /** Starts serving claimed partitions: their un-acked events again, then on from where they were read to. */
  adopt(claimed: Claimed[]): Promise<void>
  /** The set of partitions changed (after revoke/adopt). */
  assigned(owned: number[]): void
}

export interface GroupMemberOptions {
  sql: Sql
  ref: GroupRef
  sessionTimeoutMs: number
  /** Where a partition the group never read starts. */
  start: Map<number, number>
  host: GroupHost
  /** A heartbeat or rebalance failed (the database is away): the next one tries again. */
  onError: (e: unknown) => void
}

/**
 * One member of a consumer group on one topic, on any broker: heartbeats its row, computes from
 * the live members which partitions are its own (the same round-robin on every broker), lets go
 * of those assigned elsewhere after committing them, and claims its own once their previous owner
 * let go or fell silent past its session timeout. Commits name the claim, so a member that lost a
 * partition (it was thought dead) cannot overwrite its new owner's position.
 */
export class GroupMember {
  /** Partitions held, with the claim each is held by. */
  private readonly owned = new Map<number, string>()
  private chain: Promise<unknown> = Promise.resolve()
  private scheduled: Promise<Set<number>> | undefined
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(private readonly o: GroupMemberOptions) {}

  /** Heartbeat at a fraction of the session timeout: a member misses a few before it counts as gone. */
  private get heartbeatMs(): number {
    return Math.max(250, Math.min(3000, Math.floor(this.o.sessionTimeoutMs / 4)))
  }

  owns(partition: number): boolean {
    return this.owned.has(partition)
  }

  /** Joins and takes what is free now; later rounds follow on the heartbeat. */
  async start(): Promise<void> {
    await this.serial(() => this.rebalance(true))
    this.schedule()
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      void this.serial(() => this.rebalance(false))
        .catch((e) => this.o.onError(e))
        .finally(() => this.schedule())
    }, this.heartbeatMs)
    this.timer.unref()
  }

  /** Rebalances, commits and the final leave run one at a time. */
  private serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.chain.then(step)
    this.chain = run.catch(() => {})
    return run
  }

  private async rebalance(first: boolean): Promise<void> {
    if (this.stopped) return
    const { sql, ref } = this.o
    await heartbeatMember(sql, ref, this.o.sessionTimeoutMs)
    const view = await groupView(sql, ref)
    const want = new Set(assignedPartitions(view.members, view.partitions, ref.member))
    const revoked = [...this.owned.keys()].filter((p) => !want.has(p))
    if (revoked.length > 0) await this.letGo(revoked)
    const gained = [...want].filter((p) => !this.owned.has(p))
    const claimed = await claimPartitions(sql, ref, gained, this.o.start)
    if (this.stopped) {
      // claimed while stopping: give them straight back as they were
      await releasePartitions(sql, ref, new Map(claimed.map((c) => [c.partition, c.claim])))
      return
    }
    for (const c of claimed) this.owned.set(c.partition, c.claim)
    if (claimed.length > 0) await this.o.host.adopt(claimed)
    if (first || revoked.length > 0 || claimed.length > 0) this.o.host.assigned(this.ownedList())
  }

  private ownedList(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b)
  }

  /** Commits the partitions' last state, stops serving them and releases them. */
  private async letGo(partitions: number[]): Promise<void> {
    const states = this.commitsOf(partitions)
    const claims = new Map(partitions.map((p) => [p, this.owned.get(p)!]))
    for (const p of partitions) this.owned.delete(p)
    this.o.host.revoke(partitions)
    await commitPartitions(this.o.sql, this.o.ref, states)
    await releasePartitions(this.o.sql, this.o.ref, claims)
  }

  private commitsOf(partitions: number[]): Map<number, Commit> {
    const states = this.o.host.states(partitions)
    const out = new Map<number, Commit>()
    for (const [p, s] of states) out.set(p, { ...s, claim: this.owned.get(p)! })
    return out
  }

  /**
   * Stores the state of every partition held; resolves with those still held. One that another
   * member claimed meanwhile is dropped here. Acks arriving while a commit runs share the next one.
   */
  commit(): Promise<Set<number>> {
    this.scheduled ??= this.serial(async () => {
      this.scheduled = undefined
      const states = this.commitsOf([...this.owned.keys()])
      const kept = await commitPartitions(this.o.sql, this.o.ref, states)
      const lost = [...states.keys()].filter(
        (p) => !kept.has(p) && this.owned.get(p) === states.get(p)!.claim,
      )
      if (lost.length > 0) {
        for (const p of lost) this.owned.delete(p)
        this.o.host.revoke(lost)
        this.o.host.assigned(this.ownedList())
      }
      return kept
    })
    return this.scheduled
  }

  /** Commits and releases everything, then leaves: the rest of the group takes over at its next heartbeat. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearTimeout(this.timer)
    await this.serial(async () => {
      const all = [...this.owned.keys()]
      if (all.length > 0) await this.letGo(all)
      await leaveGroup(this.o.sql, this.o.ref)
    })
  }
}
