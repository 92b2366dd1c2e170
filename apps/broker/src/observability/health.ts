import { statfs } from 'node:fs/promises'
import os from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Sql } from '../storage/db'
import { withDeadline } from '../storage/deadline'
import type { Metrics } from './metrics'

export interface HealthReport {
  status: 'ok' | 'degraded' | 'down'
  brokerId: string
  version: string
  uptime: number
  load: number[]
  /** p99 event-loop delay over the last probe interval: how late the broker answers. */
  lag_ms: number
  db_latency_ms: number | null
  disk_free_pct: number | null
  write_queue_max: number
  /** Longest a write connection has held statements without one settling, in ms (0: none waiting). */
  write_stalled_ms: number
  open_streams: number
  memory_rss_bytes: number
  /** Lame-duck mode: an operator asked clients to move away (before a deploy). */
  draining: boolean
}

/** Figures added to what the broker measures: a test knob (QUESTLOG_TEST_KNOBS=on), to make one broker look degraded. */
export interface HealthOffset {
  load: number
  lag_ms: number
}

export interface HealthDeps {
  sql: Sql
  metrics: Metrics
  brokerId: string
  version: string
  diskPath: string
  queueDepth: () => number
  /** Longest any write connection has held statements without one settling, in ms. */
  laneStalledMs: () => number
  /** The database deadline: a probe that takes longer counts as failed. */
  deadlineMs: number
  openStreams: () => number
}

/** How often the event-loop delay is sampled, in ms. */
const LOOP_SAMPLE_MS = 10

/** A write connection silent for this long has publishes waiting on it: the broker says it is degraded. */
const LANE_STALLED_MS = 2000

/** Probes the database and the event loop every few seconds and answers /health from the last probe. */
export class HealthMonitor {
  private readonly started = Date.now()
  private readonly loop = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
  private dbLatencyMs: number | null = null
  private dbOk = false
  private diskFreePct: number | null = null
  private lagMs = 0
  private timer: NodeJS.Timeout | undefined
  /** Lame-duck mode (see `drain`). */
  private draining = false
  private offset: HealthOffset = { load: 0, lag_ms: 0 }

  constructor(private readonly d: HealthDeps) {}

  async start(intervalMs = 2000): Promise<void> {
    this.loop.enable()
    await this.probe()
    this.timer = setInterval(() => void this.probe(), intervalMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.loop.disable()
  }

  get ready(): boolean {
    return this.dbOk
  }

  get isDraining(): boolean {
    return this.draining
  }

  /**
   * Lame-duck mode on or off. A draining broker serves everyone still on it, but reports itself
   * draining (in /health, its heartbeat, and so every client's live set): SDK clients move to
   * another broker at once and new ones go elsewhere; /health/ready answers 503 so load balancers
   * stop sending it traffic. Nothing is refused: clients that cannot move stay served.
   */
  drain(on: boolean): void {
    this.draining = on
  }

  /** Sets the figures added to those measured (the test knob). */
  inflate(offset: HealthOffset): void {
    this.offset = offset
  }

  private async probe(): Promise<void> {
    const t = performance.now()
    try {
      // a connection that answers nothing must not leave the last good answer standing
      await withDeadline(this.d.sql`SELECT 1`, Math.min(this.d.deadlineMs, 5000))
      this.dbLatencyMs = Math.round((performance.now() - t) * 100) / 100
      this.dbOk = true
      this.d.metrics.dbLatency.set(this.dbLatencyMs / 1000)
    } catch {
      this.dbOk = false
      this.dbLatencyMs = null
    }
    try {
      const s = await statfs(this.d.diskPath)
      this.diskFreePct = Math.round((s.bavail / s.blocks) * 1000) / 10
    } catch {
      this.diskFreePct = null
    }
    // the histogram holds the time between samples: the delay is what exceeds the sampling interval
    this.lagMs = Math.round(Math.max(0, this.loop.percentile(99) / 1e6 - LOOP_SAMPLE_MS) * 100) / 100
    this.loop.reset()
  }

  report(): HealthReport {
    const stalledMs = Math.round(this.d.laneStalledMs())
    const lagMs = this.lagMs + this.offset.lag_ms
    const degraded =
      lagMs > 500 || (this.diskFreePct !== null && this.diskFreePct < 5) || stalledMs >= LANE_STALLED_MS
    return {
      status: !this.dbOk ? 'down' : degraded ? 'degraded' : 'ok',
      brokerId: this.d.brokerId,
      version: this.d.version,
      uptime: Math.round((Date.now() - this.started) / 1000),
      load: os.loadavg().map((l) => Math.round((l + this.offset.load) * 100) / 100),
      lag_ms: lagMs,
      db_latency_ms: this.dbLatencyMs,
      disk_free_pct: this.diskFreePct,
      write_queue_max: this.d.queueDepth(),
      write_stalled_ms: stalledMs,
      open_streams: this.d.openStreams(),
      memory_rss_bytes: process.memoryUsage.rss(),
      draining: this.draining,
    }
  }
}
