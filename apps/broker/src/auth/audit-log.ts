import type { Logger } from 'pino'
import type { Sql } from '../storage/db'

export interface AuditEntry {
  keyId: string | null
  action: string
  target: string | null
  outcome: string
  details?: Record<string, unknown>
}

export interface Refusal {
  keyId: string | null
  action: string
  target: string
  outcome: 'unauthenticated' | 'forbidden'
  status: number
  ip: string
  /** On a 401, the key id the credential named (a revoked, expired or made-up key): the caller chose it. */
  claimedKeyId: string | null
}

export interface AuditLogOptions {
  /** Rows older than this are deleted; 0 keeps them forever. */
  retentionDays: number
  /** How long one summary of refusals covers, in ms. */
  windowMs?: number
}

/** Refusals are summed up per source and per minute. */
const WINDOW_MS = 60_000
/** Sources tallied in one window; past this, new ones share one tally, so memory and rows stay bounded. */
const MAX_SOURCES = 256
/** Rows one DELETE of the retention removes: a short statement, repeated, never one long lock. */
const PRUNE_BATCH = 5000
/** Stored length of a refused request's path: a caller chooses it. */
const MAX_TARGET = 512

interface Tally {
  refusal: Refusal
  /** Refusals since the last row written for this source. */
  count: number
  since: number
}

/**
 * Who did what, when: admin actions, one row each, and refused requests, bounded: the first
 * refusal of a source (a key for 403; for 401 an address and the key id its credential named) in
 * a window is written at once, the rest are counted and written as one summary row when the
 * window ends.
 */
export class AuditLog {
  private tallies = new Map<string, Tally>()
  private timers: NodeJS.Timeout[] = []
  private readonly windowMs: number

  constructor(
    private readonly sql: Sql,
    private readonly log: Logger,
    private readonly o: AuditLogOptions,
  ) {
    this.windowMs = o.windowMs ?? WINDOW_MS
  }

  /**
   * Starts summing up refusals and, every `pruneEveryMs`, deleting rows past the retention
   * (when `prunes` says so: one broker of a cluster does it for all).
   */
  start(pruneEveryMs: number, prunes: () => boolean = () => true): void {
    const every = (ms: number, job: () => Promise<unknown>, what: string) => {
      const timer = setInterval(() => job().catch((err) => this.log.warn({ err }, what)), ms)
      timer.unref()
      this.timers.push(timer)
    }
    every(this.windowMs, () => this.flush(), 'audit summary write failed')
    if (this.o.retentionDays > 0) {
      const prune = async () => (prunes() ? this.prune() : 0)
      void prune().catch((err) => this.log.warn({ err }, 'audit retention failed'))
      every(pruneEveryMs, prune, 'audit retention failed')
    }
  }

  /** Stops the timers and writes the summaries of the window in progress. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer)
    this.timers = []
    await this.flush()
  }

  async record(e: AuditEntry): Promise<void> {
    await this.sql`INSERT INTO ql_audit (key_id, action, target, outcome, details)
                   VALUES (${e.keyId}, ${e.action}, ${e.target}, ${e.outcome}, ${JSON.stringify(e.details ?? {})}::jsonb)`
  }

  /** One refused request: written now if it is its source's first in this window, otherwise counted. */
  async refused(r: Refusal): Promise<void> {
    const refusal = { ...r, target: r.target.slice(0, MAX_TARGET) }
    let source =
      r.outcome === 'forbidden' ? `forbidden|${r.keyId}` : `unauthenticated|${r.ip}|${r.claimedKeyId}`
    if (!this.tallies.has(source) && this.tallies.size >= MAX_SOURCES) source = `${r.outcome}|*`
    const tally = this.tallies.get(source)
    if (tally) {
      tally.count++
      tally.refusal = refusal
      return
    }
    this.tallies.set(source, { refusal, count: 0, since: Date.now() })
    await this.record({
      keyId: refusal.keyId,
      action: refusal.action,
      target: refusal.target,
      outcome: refusal.outcome,
      details: { status: refusal.status, ip: refusal.ip, claimedKeyId: refusal.claimedKeyId },
    })
  }

  /** Writes one summary row per source refused more than once in the window, and opens a new window. */
  async flush(): Promise<void> {
    const tallies = [...this.tallies.values()].filter((t) => t.count > 0)
    this.tallies = new Map()
    const to = new Date().toISOString()
    for (const { refusal, count, since } of tallies) {
      await this.record({
        keyId: refusal.keyId,
        action: 'refused requests (summary)',
        target: refusal.target,
        outcome: refusal.outcome,
        details: {
          count,
          from: new Date(since).toISOString(),
          to,
          status: refusal.status,
          ip: refusal.ip,
          claimedKeyId: refusal.claimedKeyId,
          lastAction: refusal.action,
        },
      })
    }
  }

  /** Deletes rows older than the retention, a batch at a time; returns how many went. */
  async prune(now = Date.now()): Promise<number> {
    if (this.o.retentionDays <= 0) return 0
    const before = new Date(now - this.o.retentionDays * 86_400_000).toISOString()
    let deleted = 0
    for (;;) {
      const { count } = await this.sql`
        DELETE FROM ql_audit WHERE id IN (
          SELECT id FROM ql_audit WHERE at < ${before}::timestamptz ORDER BY at LIMIT ${PRUNE_BATCH})`
      deleted += count
      if (count < PRUNE_BATCH) return deleted
    }
  }

  async list(limit: number, before?: number) {
    const rows = await this.sql`
      SELECT id, at, key_id, action, target, outcome, details::text AS details FROM ql_audit
      ${before === undefined ? this.sql`` : this.sql`WHERE id < ${before}`}
      ORDER BY id DESC LIMIT ${limit}`
    return rows.map((r) => ({
      id: Number(r.id),
      at: new Date(r.at as string).toISOString(),
      keyId: (r.key_id as string | null) ?? null,
      action: r.action as string,
      target: (r.target as string | null) ?? null,
      outcome: r.outcome as string,
      details: JSON.parse(r.details as string) as Record<string, unknown>,
    }))
  }
}
