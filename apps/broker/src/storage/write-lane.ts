import { UnavailableError } from '@questlog/protocol'
import type { Sql } from './db'

export interface WriteLaneOptions {
  /** Opens the lane's connection (one connection: what is sent on it runs in the order sent). */
  open: () => Sql
  /**
   * Longest the lane may hold statements without one of them settling. The server's own
   * statement and lock timeouts sit below it, so a live server answers first; past it the
   * connection is taken for wedged (a socket that says nothing) and replaced.
   */
  stallMs: number
  onReplaced?: (reason: string) => void
}

interface Held {
  reject: (e: unknown) => void
}

/**
 * One write connection with a watchdog. Partition writers pipeline their
 * statements on `sql`, which always runs them on the lane's current
 * connection. When statements are held and none settles within `stallMs`, or
 * the server turns out to be read-only (a demoted primary), the connection is
 * dropped for a fresh one, which finds the writable server again; what the old
 * one held fails at once with a retryable `unavailable` error, never nothing.
 */
export class WriteLane {
  /** What partition writers send on; a stable function over the current connection. */
  readonly sql: Sql
  private current: Sql
  private held = new Set<Held>()
  /** When a statement last settled, or the lane last became busy. */
  private progressAt = performance.now()
  private replacedCount = 0
  private readonly timer: NodeJS.Timeout
  private closed = false

  constructor(private readonly o: WriteLaneOptions) {
    this.current = o.open()
    this.sql = new Proxy(this.current, {
      apply: (_target, _this, args: unknown[]) => {
        const made = (this.current as (...a: unknown[]) => unknown)(...args)
        // a tagged statement is tracked; a fragment or helper value (`sql(obj)`) is not a statement
        const tagged = Array.isArray(args[0]) && 'raw' in (args[0] as object)
        return tagged ? this.track(made as PromiseLike<unknown>) : made
      },
      get: (_target, prop) => Reflect.get(this.current, prop),
    })
    this.timer = setInterval(() => this.check(), Math.max(100, Math.min(1000, o.stallMs / 4)))
    this.timer.unref()
  }

  /** Milliseconds the lane has held statements without one settling (0 when idle). */
  stalledMs(): number {
    return this.held.size === 0 ? 0 : performance.now() - this.progressAt
  }

  /** Connections replaced since start. */
  get replaced(): number {
    return this.replacedCount
  }

  async end(): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    await this.current.end({ timeout: 2 })
  }

  private track(query: PromiseLike<unknown>): Promise<unknown> {
    if (this.held.size === 0) this.progressAt = performance.now()
    const generation = this.current
    return new Promise((resolve, reject) => {
      const h: Held = { reject }
      this.held.add(h)
      const settle = () => {
        // a statement of a replaced connection was settled (failed) already
        if (!this.held.delete(h)) return false
        this.progressAt = performance.now()
        return true
      }
      query.then(
        (v) => {
          if (settle()) resolve(v)
        },
        (e) => {
          if (!settle()) return
          reject(e)
          if ((e as { code?: unknown }).code === '25006' && generation === this.current)
            this.replace('the server is read-only (a standby, or a demoted primary)')
        },
      )
    })
  }

  private check(): void {
    if (this.closed || this.held.size === 0) return
    const ms = performance.now() - this.progressAt
    if (ms > this.o.stallMs) this.replace(`no statement settled for ${Math.round(ms)} ms`)
  }

  private replace(reason: string): void {
    if (this.closed) return
    const old = this.current
    const held = [...this.held]
    this.held.clear()
    this.current = this.o.open()
    this.replacedCount++
    this.progressAt = performance.now()
    // the old connection's statements may have committed or not: a retry is safe with a dedupe key or producer seq
    const error = new UnavailableError(
      `the database write connection was replaced (${reason}); retry: an event with a dedupe key or producer seq is stored once`,
    )
    for (const h of held) h.reject(error)
    void old.end({ timeout: 0 }).catch(() => {})
    this.o.onReplaced?.(reason)
  }
}
