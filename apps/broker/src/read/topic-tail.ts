import { compileSubjectPattern, subjectPatternToRegex } from '@questlog/protocol'
import type { Fanout, LogListener } from '../fanout/fanout'
import type { Sql } from '../storage/db'
import { unavailableCode } from '../storage/db-errors'
import { withDeadline } from '../storage/deadline'
import { highWatermarks, readEventPage, type StoredEvent } from '../storage/event-store'
import { encodeCursor } from './cursor'
import { advance } from './reader'

export interface TailSink {
  /** Sends one event with the cursor that resumes after it; false when the connection is congested. */
  send(event: StoredEvent, cursor: string): boolean
  /** Resolves when a congested connection can take more. */
  drained(): Promise<void>
}

export interface TailOptions {
  sql: Sql
  fanout: Fanout
  topicId: number
  positions: Map<number, number>
  key?: string | undefined
  type?: string | undefined
  sink: TailSink
  pageSize?: number
  /** Payload bytes of one catch-up page (past its first event). */
  pageBytes?: number | undefined
  /** Safety net against a lost notification: re-read the watermarks this often. */
  refreshMs?: number
  /** Ended: by `stop`, the topic's deletion, or, with `error`, a read that cannot succeed. */
  onClose?: (error?: unknown) => void
}

/** A read of the log that has not answered by then is abandoned and tried again. */
const READ_DEADLINE_MS = 30_000
/** Longest wait between reads while the database is unavailable. */
const MAX_RETRY_MS = 2000

/**
 * Follows a topic from given positions: catches up from the log, then takes
 * events straight from the writer as they commit. Falls back to the log
 * whenever it is behind, so nothing is skipped or sent twice.
 */
export class TopicTail implements LogListener {
  private positions: Map<number, number>
  private readonly high = new Map<number, number>()
  private readonly matchType: ((t: string) => boolean) | undefined
  private idle = false
  private congested = false
  private stopped = false
  private wake: (() => void) | undefined
  private timer: NodeJS.Timeout | undefined
  private unsubscribe: (() => void) | undefined

  constructor(private readonly o: TailOptions) {
    this.positions = new Map(o.positions)
    this.matchType = o.type === undefined ? undefined : compileSubjectPattern(o.type)
  }

  async start(): Promise<void> {
    this.unsubscribe = this.o.fanout.subscribe(this.o.topicId, this)
    await this.refreshHigh()
    this.timer = setInterval(
      () =>
        void this.refreshHigh().then(
          () => this.poke(),
          () => {}, // the database is away: the next refresh, or the reads' own retries, catch up
        ),
      this.o.refreshMs ?? 5000,
    )
    this.timer.unref()
    void this.loop().catch((e) => this.stop(e))
  }

  stop(error?: unknown): void {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.timer)
    this.unsubscribe?.()
    this.poke()
    this.o.onClose?.(error)
  }

  cursor(): string {
    return encodeCursor({ topicId: this.o.topicId, positions: this.positions })
  }

  onCommit(partition: number, first: number, events: readonly StoredEvent[]): void {
    if (!this.positions.has(partition)) return
    this.high.set(partition, Math.max(this.high.get(partition) ?? 0, first + events.length))
    if (this.idle && !this.congested && this.positions.get(partition) === first) {
      // a commit may be thousands of events: past the first write the sink cannot take, the
      // rest waits in the log, read back once the sink drains (the loop is woken to wait for it)
      for (const e of events) {
        this.deliver(e)
        if (this.congested) break
      }
      if (!this.congested) return
    }
    this.poke()
  }

  onAdvance(partition: number, next: number): void {
    if (!this.positions.has(partition)) return
    this.high.set(partition, Math.max(this.high.get(partition) ?? 0, next))
    this.poke()
  }

  onClose(): void {
    this.stop()
  }

  private poke(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private async refreshHigh(): Promise<void> {
    const high = await highWatermarks(this.o.sql, this.o.topicId)
    for (const [p, n] of high) this.high.set(p, Math.max(this.high.get(p) ?? 0, n))
  }

  private deliver(e: StoredEvent): void {
    this.positions.set(e.partition, e.offset + 1)
    const wanted = (this.o.key === undefined || e.key === this.o.key) && (this.matchType?.(e.type) ?? true)
    if (wanted && !this.o.sink.send(e, this.cursor())) this.congested = true
  }

  private behind(): Map<number, number> {
    const b = new Map<number, number>()
    for (const [p, pos] of this.positions) if (pos < (this.high.get(p) ?? 0)) b.set(p, pos)
    return b
  }

  private async loop(): Promise<void> {
    const limit = this.o.pageSize ?? 500
    let failures = 0
    while (!this.stopped) {
      if (this.congested) {
        await this.o.sink.drained()
        this.congested = false
        continue
      }
      const behind = this.behind()
      if (behind.size === 0) {
        this.idle = true
        await new Promise<void>((resolve) => {
          this.wake = resolve
        })
        this.idle = false
        continue
      }
      const snapshot = new Map(this.high)
      let events: StoredEvent[]
      let short: boolean
      try {
        ;({ events, short } = await withDeadline(
          readEventPage(this.o.sql, this.o.topicId, {
            positions: behind,
            key: this.o.key,
            typeRegex: this.o.type === undefined ? undefined : subjectPatternToRegex(this.o.type),
            limit,
            maxBytes: this.o.pageBytes,
            order: behind.size === 1 ? 'offset' : 'time',
          }),
          READ_DEADLINE_MS,
        ))
        failures = 0
      } catch (e) {
        // the database being away (restarting, failing over) ends no reader: it resumes from its positions
        if (unavailableCode(e) === undefined) throw e
        await new Promise((r) => setTimeout(r, Math.min(MAX_RETRY_MS, 50 * 2 ** failures++)))
        continue
      }
      if (this.stopped) return
      for (const e of events) {
        if ((this.positions.get(e.partition) ?? 0) > e.offset) continue
        this.positions.set(e.partition, e.offset + 1)
        if (!this.o.sink.send(e, this.cursor())) {
          // what the sink could not take is read again when it drains, not held here
          this.congested = true
          break
        }
      }
      if (this.congested) continue
      const moved = advance(behind, events, short, snapshot)
      for (const [p, pos] of moved) this.positions.set(p, Math.max(this.positions.get(p) ?? 0, pos))
    }
  }
}
