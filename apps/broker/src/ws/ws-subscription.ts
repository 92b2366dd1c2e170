import { decodeCursor } from '../read/cursor'
import { envelopeJson } from '../read/envelope-json'
import { TopicTail } from '../read/topic-tail'
import type { Services } from '../services'
import { readEvents, type StoredEvent } from '../storage/event-store'
import type { Topic } from '../topics/topic-service'
import { commitGroupOffsets } from './consumer-offsets'

/** What a subscription needs from its WebSocket. */
export interface FrameSink {
  send(text: string): void
  /** True while the socket's send buffer is past its high-water mark. */
  congested(): boolean
  /** Resolves when the socket's send buffer has drained below the mark. */
  drained(): Promise<void>
}

export interface WsSubscriptionOptions {
  sid: string
  topic: Topic
  positions: Map<number, number>
  group?: string | undefined
  key?: string | undefined
  type?: string | undefined
  credits: number
  /** The tail ended on its own: the topic was deleted, or (with `error`) a read failed for good. */
  onEnd: (error?: unknown) => void
}

interface Held {
  event: StoredEvent
  cursor: string
}

/**
 * One subscription on a WebSocket: a TopicTail whose sink honours credits (at
 * most `credits` un-acked events out at once), tracks acks, redelivers naks,
 * and for a consumer group stores the position below the oldest un-acked event.
 */
export class WsSubscription {
  private readonly tail: TopicTail
  private credits: number
  /** Un-acked events sent, per partition. */
  private readonly unacked = new Map<number, Set<number>>()
  private outstanding = 0
  /** Events the tail handed over beyond the window; sent as credits free up. */
  private readonly held: Held[] = []
  private readonly redeliveries = new Map<string, number>()
  private batch: string[] = []
  /** Characters in `batch`: a frame is capped by size as well as by count. */
  private batchBytes = 0
  private flushScheduled = false
  private wakeTail: (() => void) | undefined
  private commitChain: Promise<void> = Promise.resolve()
  private scheduled: Promise<void> | undefined
  private stopped = false

  constructor(
    private readonly s: Services,
    private readonly out: FrameSink,
    private readonly o: WsSubscriptionOptions,
  ) {
    this.credits = o.credits
    this.tail = new TopicTail({
      sql: s.sql,
      fanout: s.fanout,
      topicId: o.topic.id,
      positions: o.positions,
      key: o.key,
      type: o.type,
      pageBytes: s.config.maxReadBytes,
      sink: {
        send: (event, cursor) => this.offer(event, cursor),
        drained: () => this.whenRoom(),
      },
      onClose: (error) => {
        if (!this.stopped) o.onEnd(error)
      },
    })
  }

  start(): Promise<void> {
    return this.tail.start()
  }

  /** Stops reading; a group keeps the position of its last acks. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.tail.stop()
    this.wake()
    if (this.o.group !== undefined) await this.scheduleCommit().catch(() => {})
  }

  setCredits(n: number): void {
    this.credits = n
    this.release()
  }

  /** Marks events processed; with a group, resolves once the new position is stored. */
  ack(refs: ReadonlyArray<readonly [number, string]>): Promise<void> {
    for (const [p, o] of refs) {
      const offset = Number(o)
      if (this.unacked.get(p)?.delete(offset)) {
        this.outstanding--
        this.redeliveries.delete(`${p}:${offset}`)
      }
    }
    this.release()
    return this.o.group === undefined ? Promise.resolve() : this.scheduleCommit()
  }

  /** Sends an un-acked event again after `delayMs`, read back from the log. */
  nak(partition: number, offset: number, delayMs: number): void {
    if (!this.unacked.get(partition)?.has(offset)) return
    const timer = setTimeout(() => void this.redeliver(partition, offset).catch(() => {}), delayMs)
    timer.unref()
  }

  private async redeliver(partition: number, offset: number): Promise<void> {
    if (this.stopped || !this.unacked.get(partition)?.has(offset)) return
    const [event] = await readEvents(this.s.sql, this.o.topic.id, {
      positions: new Map([[partition, offset]]),
      limit: 1,
      order: 'offset',
    })
    if (!event || event.offset !== offset || this.stopped) return
    const id = `${partition}:${offset}`
    const n = (this.redeliveries.get(id) ?? 0) + 1
    this.redeliveries.set(id, n)
    this.push(event, this.tail.cursor(), n)
  }

  /** TopicTail's sink: false tells the tail to wait for `whenRoom`. */
  private offer(event: StoredEvent, cursor: string): boolean {
    if (this.stopped) return false
    if (this.held.length > 0 || this.outstanding >= this.credits) {
      // the tail stops at the first false: at most one event waits here for credits to free up
      this.held.push({ event, cursor })
      return false
    }
    this.emit(event, cursor)
    return this.outstanding < this.credits && !this.out.congested()
  }

  private emit(event: StoredEvent, cursor: string): void {
    let set = this.unacked.get(event.partition)
    if (!set) {
      set = new Set()
      this.unacked.set(event.partition, set)
    }
    set.add(event.offset)
    this.outstanding++
    this.push(event, cursor, 0)
  }

  private push(event: StoredEvent, cursor: string, redelivery: number): void {
    const extra = redelivery > 0 ? `,"redelivery":${redelivery}` : ''
    const item = `{"event":${envelopeJson(this.o.topic.name, event)},"cursor":"${cursor}"${extra}}`
    this.batch.push(item)
    this.batchBytes += item.length
    if (this.batch.length >= 500 || this.batchBytes >= this.s.config.maxReadBytes) this.flush()
    else if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flush())
    }
  }

  private flush(): void {
    this.flushScheduled = false
    if (this.batch.length === 0 || this.stopped) return
    const events = this.batch
    this.batch = []
    this.batchBytes = 0
    this.s.metrics.eventsOut.inc({ topic: this.o.topic.name }, events.length)
    this.out.send(`{"op":"events","sid":${JSON.stringify(this.o.sid)},"events":[${events.join(',')}]}`)
  }

  private release(): void {
    while (this.held.length > 0 && this.outstanding < this.credits) {
      const h = this.held.shift()!
      this.emit(h.event, h.cursor)
    }
    if (this.held.length === 0 && this.outstanding < this.credits) this.wake()
  }

  private wake(): void {
    const w = this.wakeTail
    this.wakeTail = undefined
    w?.()
  }

  private async whenRoom(): Promise<void> {
    while (!this.stopped && (this.held.length > 0 || this.outstanding >= this.credits)) {
      await new Promise<void>((resolve) => {
        this.wakeTail = resolve
      })
    }
    if (!this.stopped && this.out.congested()) await this.out.drained()
  }

  /** Position to store: the oldest un-acked (or held) event of each partition, else where the tail stands. */
  private groupPositions(): Map<number, number> {
    const positions = decodeCursor(this.tail.cursor(), this.o.topic.id, 'cursor').positions
    for (const [p, set] of this.unacked) {
      for (const offset of set) positions.set(p, Math.min(positions.get(p) ?? offset, offset))
    }
    for (const h of this.held) {
      const p = h.event.partition
      positions.set(p, Math.min(positions.get(p) ?? h.event.offset, h.event.offset))
    }
    return positions
  }

  private scheduleCommit(): Promise<void> {
    // acks that arrive while a commit runs share the next one
    this.scheduled ??= this.commitChain.then(() => {
      this.scheduled = undefined
      return commitGroupOffsets(this.s.sql, this.o.group!, this.o.topic.id, this.groupPositions())
    })
    this.commitChain = this.scheduled.catch(() => {})
    return this.scheduled
  }
}
