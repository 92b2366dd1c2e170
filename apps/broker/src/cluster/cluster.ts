import type { BrokerHealth } from '@questlog/protocol'
import type { Logger } from 'pino'
import type { Sql } from '../storage/db'
import { type LeasedWork, type RunEnd, WorkClaimer } from './leased-work'
import { freeLeases, type Lease, Leases } from './leases'
import { BrokerRegistry, type BrokerSelf } from './registry'

/**
 * Background work of which the cluster runs one at a time, on the broker that holds its lease:
 * retention and segment upkeep, the audit log's retention, the subscription stats collector, and
 * the sweep that publishes dead-letter copies a dying broker left unpublished, compaction, and the outbox relay.
 */
export const SINGLETONS = [
  'retention',
  'audit-retention',
  'subscription-stats',
  'dead-letter-copies',
  'compaction',
  'outbox-relay',
] as const
export type Singleton = (typeof SINGLETONS)[number]

export interface ClusterOptions {
  sql: Sql
  self: BrokerSelf
  health: () => BrokerHealth
  heartbeatMs: number
  deadAfterMs: number
  log: Logger
}

/**
 * This broker as a member of the cluster over one database. One heartbeat loop keeps its registry
 * row fresh, renews its leases (which last the dead-after time: a broker dead to the registry has
 * lost its work too) and takes free work. A step that hangs (a wedged connection) is given up
 * after the dead-after time so the loop goes on; the broker's leases lapse meanwhile, as they should.
 */
export class Cluster {
  readonly registry: BrokerRegistry
  readonly leases: Leases
  readonly work: WorkClaimer
  private timer: NodeJS.Timeout | undefined
  private readonly timers: NodeJS.Timeout[] = []
  private readonly beats: Array<() => void> = []
  private beating: Promise<void> | undefined
  private stopped = false

  constructor(private readonly o: ClusterOptions) {
    this.registry = new BrokerRegistry(o.sql, o.self, o.health, o.deadAfterMs)
    this.leases = new Leases(o.sql, o.self.id, o.deadAfterMs)
    this.work = new WorkClaimer(this.leases, () => this.registry.live().length, o.log)
    this.work.add(leadership(o.sql))
  }

  /** Whether this broker runs the cluster's one `name` now. */
  leads(name: Singleton): boolean {
    return this.leases.get(`singleton:${name}`) !== undefined
  }

  get brokerId(): string {
    return this.o.self.id
  }

  /** Runs `hook` after each heartbeat. */
  onBeat(hook: () => void): void {
    this.beats.push(hook)
  }

  /** Runs `job` every `ms` on whichever broker leads `name`. */
  every(name: Singleton, ms: number, job: () => Promise<unknown>): void {
    let busy = false
    const timer = setInterval(() => {
      if (busy || !this.leads(name)) return
      busy = true
      job()
        .catch((err) => this.o.log.warn({ err, work: name }, 'background work failed'))
        .finally(() => {
          busy = false
        })
    }, ms)
    timer.unref()
    this.timers.push(timer)
  }

  /** Registers at `url` and starts beating; resolves after the first heartbeat. */
  async start(url: string): Promise<void> {
    this.registry.advertise(url)
    await this.tick()
    this.schedule()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    for (const t of this.timers) clearInterval(t)
    await this.beating
    await this.work.stop()
    await this.registry.leave().catch(() => {})
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.beating = this.tick().finally(() => this.schedule())
    }, this.o.heartbeatMs)
    this.timer.unref()
  }

  private async tick(): Promise<void> {
    const ms = this.o.deadAfterMs
    await bounded(this.registry.heartbeat(), ms).catch((err) =>
      this.o.log.warn({ err }, 'broker heartbeat failed'),
    )
    for (const hook of this.beats) hook()
    await bounded(this.leases.renew(), ms).catch((err) => this.o.log.warn({ err }, 'lease renewal failed'))
    if (!this.stopped) await bounded(this.work.tick(), ms).catch(() => {})
  }
}

/** `p`, or a rejection once `ms` have passed without it settling. */
export function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/** The singletons as leased work: holding the lease is the whole run; the workers ask `leads`. */
function leadership(sql: Sql): LeasedWork {
  return {
    prefix: 'singleton:',
    rebalance: true,
    async items() {
      const names = SINGLETONS.map((n) => `singleton:${n}`)
      const free = await freeLeases(sql, names)
      return names.map((name) => ({ name, free: free.has(name) }))
    },
    run: (_name: string, lease: Lease) =>
      new Promise<RunEnd>((resolve) => {
        if (lease.signal.aborted) resolve('again')
        lease.signal.addEventListener('abort', () => resolve('again'), { once: true })
      }),
  }
}
