import { AttemptExpiredError, compileSubjectPattern } from '@questlog/protocol'
import { decodeCursor } from '../read/cursor'
import { envelopeJson } from '../read/envelope-json'
import { TopicTail } from '../read/topic-tail'
import type { Services } from '../services'
import { readAt, readEvents, type StoredEvent } from '../storage/event-store'
import type { Topic } from '../topics/topic-service'
import type { Claimed, PartitionState } from './consumer-offsets'
import { type GroupHost, GroupMember } from './ws-group-member'

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
  /** Where to read from; in a group, where a partition the group never read starts. */
  positions: Map<number, number>
  /** A consumer group: this subscription reads only the partitions the group gives its member. */
  group?: { name: string; member: string; sessionTimeoutMs: number } | undefined
  key?: string | undefined
  type?: string | undefined
  credits: number
  /** The tail ended on its own: the topic was deleted, or (with `error`) a read failed for good. */
  onEnd: (error?: unknown) => void
  /** The partitions read changed (a group member's assignment), with where each stands. */
  onAssigned?: (positions: Map<number, number>) => void
}

interface Held {
  event: StoredEvent
  cursor: string
}

/**
 * One subscription on a WebSocket: a TopicTail whose sink honours credits (at
 * most `credits` un-acked events out at once), tracks acks and redelivers naks.
 * In a consumer group it reads only its member's partitions and stores, per
 * partition, how far it read and exactly which events are still un-acked.
 */
export class WsSubscription implements GroupHost {
  private tail: TopicTail | undefined
  /** Where the tail stood when it last stopped (a group member's partitions changing). */
  private positions: Map<number, number>
  private readonly member: GroupMember | undefined
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
  /** Tails waiting for credits to free up (a stopped tail's waiter too, so none is left hanging). */
  private waiters: Array<() => void> = []
  private readonly matchType: ((t: string) => boolean) | undefined
  private stopped = false

  constructor(
    private readonly s: Services,
    private readonly out: FrameSink,
    private readonly o: WsSubscriptionOptions,
  ) {
    this.credits = o.credits
    this.positions = new Map(o.positions)
    this.matchType = o.type === undefined ? undefined : compileSubjectPattern(o.type)
    if (o.group !== undefined) {
      this.positions.clear()
      this.member = new GroupMember({
        sql: s.sql,
        ref: { group: o.group.name, topicId: o.topic.id, member: o.group.member },
        sessionTimeoutMs: o.group.sessionTimeoutMs,
        start: o.positions,
        host: this,
        onError: (e) => s.log.warn({ err: e, group: o.group?.name }, 'consumer group heartbeat failed'),
      })
    }
  }

  async start(): Promise<void> {
    if (this.member) await this.member.start()
    else await this.startTail()
  }

  private async startTail(): Promise<void> {
    if (this.stopped || this.positions.size === 0) return
    const tail: TopicTail = new TopicTail({
      sql: this.s.sql,
      fanout: this.s.fanout,
      topicId: this.o.topic.id,
      positions: this.positions,
      key: this.o.key,
      type: this.o.type,
      pageBytes: this.s.config.maxReadBytes,
      sink: {
        send: (event, cursor) => tail === this.tail && this.offer(event, cursor),
        drained: () => this.whenRoom(tail),
      },
      onClose: (error) => {
        // a tail stopped for a new assignment ends nothing
        if (!this.stopped && tail === this.tail) this.o.onEnd(error)
      },
    })
    this.tail = tail
    try {
      await tail.start()
    } catch (e) {
      if (!this.member) throw e
      // a group member keeps its partitions through a database outage: it reads again shortly
      this.stopTail()
      setTimeout(() => {
        if (!this.tail) void this.startTail().catch(() => {})
      }, 1000).unref()
    }
  }

  /** Stops the tail, keeping where it stood. */
  private stopTail(): void {
    const tail = this.tail
    if (!tail) return
    this.positions = this.tailPositions()
    this.tail = undefined
    tail.stop()
    this.wake()
  }

  private tailPositions(): Map<number, number> {
    return this.tail
      ? decodeCursor(this.tail.cursor(), this.o.topic.id, 'cursor').positions
      : new Map(this.positions)
  }

  /** Stops reading; a group member commits what it has, lets its partitions go and leaves. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.stopTail()
    this.wake()
    await this.member?.stop().catch(() => {})
  }

  setCredits(n: number): void {
    this.credits = n
    this.release()
  }

  /**
   * Marks events processed; in a group, resolves once the new state is stored, and fails with
   * `attempt_expired` for events of partitions this member no longer holds (their new owner
   * delivers them again).
   */
  ack(refs: ReadonlyArray<readonly [number, string]>): Promise<void> {
    const member = this.member
    const refused = new Set<number>()
    for (const [p, o] of refs) {
      if (member && !member.owns(p)) {
        refused.add(p)
        continue
      }
      const offset = Number(o)
      if (this.unacked.get(p)?.delete(offset)) {
        this.outstanding--
        this.redeliveries.delete(`${p}:${offset}`)
      }
    }
    this.release()
    if (!member) return Promise.resolve()
    return member.commit().then((kept) => {
      for (const [p] of refs) if (!kept.has(p)) refused.add(p)
      if (refused.size > 0) {
        const partitions = [...refused].sort((a, b) => a - b)
        throw new AttemptExpiredError(
          `partitions ${partitions.join(', ')} of '${this.o.topic.name}' moved to another member of group '${this.o.group?.name ?? ''}'; it delivers their un-acked events again`,
          { partitions },
        )
      }
    })
  }

  /** Sends an un-acked event again after `delayMs`, read back from the log. */
  nak(partition: number, offset: number, delayMs: number): void {
    if (!this.unacked.get(partition)?.has(offset)) return
    const timer = setTimeout(() => void this.redeliver(partition, offset).catch(() => {}), delayMs)
    timer.unref()
  }

  private async redeliver(partition: number, offset: number): Promise<void> {
    // a nak-ed event of a partition that moved meanwhile is its new owner's to deliver again
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
    this.push(event, this.cursorNow(), n)
  }

  private cursorNow(): string {
    return this.tail?.cursor() ?? ''
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
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  private async whenRoom(tail: TopicTail): Promise<void> {
    while (
      !this.stopped &&
      tail === this.tail &&
      (this.held.length > 0 || this.outstanding >= this.credits)
    ) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
      })
    }
    if (!this.stopped && this.out.congested()) await this.out.drained()
  }

  // ---- a consumer group's member (GroupHost) ----

  /** Per partition: read up to the tail's position or the first event held back, un-acked below that. */
  states(partitions: number[]): Map<number, PartitionState> {
    const at = this.tailPositions()
    const out = new Map<number, PartitionState>()
    for (const p of partitions) {
      let readTo = at.get(p) ?? 0
      for (const h of this.held) if (h.event.partition === p) readTo = Math.min(readTo, h.event.offset)
      const unacked = [...(this.unacked.get(p) ?? [])].filter((o) => o < readTo).sort((a, b) => a - b)
      out.set(p, { floor: unacked[0] ?? readTo, readTo, unacked })
    }
    return out
  }

  revoke(partitions: number[]): void {
    const gone = new Set(partitions)
    if (this.tail && [...gone].some((p) => this.tailPositions().has(p))) {
      this.stopTail()
      for (const p of gone) this.positions.delete(p)
      void this.startTail()
    } else for (const p of gone) this.positions.delete(p)
    for (const p of gone) {
      this.outstanding -= this.unacked.get(p)?.size ?? 0
      this.unacked.delete(p)
    }
    for (let i = this.held.length - 1; i >= 0; i--)
      if (gone.has(this.held[i]!.event.partition)) this.held.splice(i, 1)
    for (const id of this.redeliveries.keys())
      if (gone.has(Number(id.split(':')[0]))) this.redeliveries.delete(id)
    this.release()
  }

  async adopt(claimed: Claimed[]): Promise<void> {
    // what the previous owner handed out and nobody acked goes first, in offset order
    for (const c of claimed) {
      if (c.unacked.length === 0) continue
      const events = await readAt(this.s.sql, this.o.topic.id, c.partition, c.unacked)
      if (this.stopped) return
      for (const e of events) {
        if (!this.wanted(e)) continue
        let set = this.unacked.get(e.partition)
        if (!set) {
          set = new Set()
          this.unacked.set(e.partition, set)
        }
        set.add(e.offset)
        this.outstanding++
        this.redeliveries.set(`${e.partition}:${e.offset}`, 1)
        this.push(e, '', 1)
      }
    }
    this.stopTail()
    for (const c of claimed) this.positions.set(c.partition, c.readTo)
    await this.startTail()
  }

  assigned(owned: number[]): void {
    const at = this.states(owned)
    this.o.onAssigned?.(new Map(owned.map((p) => [p, at.get(p)!.floor])))
  }

  private wanted(e: StoredEvent): boolean {
    return (this.o.key === undefined || e.key === this.o.key) && (this.matchType?.(e.type) ?? true)
  }
}
