import { BadRequestError, QuestlogError } from '@questlog/protocol'
import type { Sql } from '../storage/db'
import {
  type Appended,
  DedupeConflict,
  type DedupeReceipt,
  dedupeReceipts,
  type NewEvent,
  PredecessorNotStored,
  payloadOf,
  type StoredEvent,
  sequenceKey,
  sequenceReceipts,
  writeBatch,
} from '../storage/event-store'
import type { SegmentRegistry } from '../storage/segments'

export interface WriteResult {
  id: string
  partition: number
  offset: number
  duplicate: boolean
}

/** The events of one request for this partition; settled together, in order. */
interface Group {
  events: NewEvent[]
  /** Events taken into batches so far (a large group goes in slices). */
  taken: number
  results: Array<WriteResult | undefined>
  resolve: (r: WriteResult[]) => void
  reject: (e: unknown) => void
}

/** One event of a batch and where its result goes. */
interface Slot {
  group: Group
  index: number
}

/** One send of a batch on the partition's connection. */
interface Sent {
  /** Names it in `ql_partitions.last_batch` once stored. */
  no: number
  /** Whether it was stored; undefined while in flight. */
  stored: boolean | undefined
  /** The send it had to follow, if any. */
  after: Sent | undefined
  /** Settles with the batch (all its sends): stored in the end, or failed for good. */
  outcome: Promise<boolean>
}

export interface WriterTopic {
  id: number
  segmentMs: number
  dedupeWindowMs: number
}

export interface WriterDeps {
  /** The pool, for reads. */
  sql: Sql
  /** This partition's write connection now (one connection: what is sent on it runs in the order sent). */
  lane: () => Sql
  /** Moves the partition to a connection of its own: it waits on a lock that would hold up the partitions it shares with. */
  isolate: () => void
  segments: SegmentRegistry
  maxBatchEvents: number
  /** The NOTIFY payload of a commit, without the next offset the database appends. */
  notifyPrefix: (topicId: number, partition: number) => string
  notifyChannel: string
  /** Committed events for live readers; `events` builds them, called only if anyone listens. */
  onCommitted: (topicId: number, partition: number, first: number, events: () => StoredEvent[]) => void
  onBatch: (events: number, seconds: number) => void
}

const RETRYABLE_PG = new Set(['40P01', '40001'])
/** SQLSTATE of a lock wait that ran out (`lock_timeout`): the statement changed nothing. */
const LOCK_NOT_AVAILABLE = '55P03'

/**
 * The database refused the statement for what it held: a data exception (22),
 * a constraint (23), a program limit (54), an exception raised by a function
 * or trigger (P0). It changed nothing, and some request of the batch is at
 * fault. Not the broker's own signals (`QL…`), handled where they are raised,
 * nor the server going away or out of resources (08, 53, 57), which no
 * request causes.
 */
function refusedFor(e: unknown): boolean {
  const { code, severity } = e as { code?: unknown; severity?: unknown }
  if (typeof code !== 'string' || severity !== 'ERROR') return false
  return ['22', '23', '54', 'P0'].includes(code.slice(0, 2))
}

/** The slots of a batch split by the request they belong to, in order. */
function byGroup(slots: Slot[]): Slot[][] {
  const out: Slot[][] = []
  for (const s of slots) {
    const last = out[out.length - 1]
    if (last && last[0]!.group === s.group) last.push(s)
    else out.push([s])
  }
  return out
}

/**
 * An event just committed, as this broker's live readers get it: a view of the
 * published event with its place in the log. Live readers splice a JSON
 * payload's text (`dataJson`); the payload's bytes are made only if asked for.
 */
class CommittedEvent implements StoredEvent {
  constructor(
    private readonly e: NewEvent,
    readonly partition: number,
    readonly offset: number,
    readonly time: Date,
  ) {}
  get id() {
    return this.e.id
  }
  get eventTime() {
    return this.e.eventTime ?? null
  }
  get type() {
    return this.e.type
  }
  get source() {
    return this.e.source
  }
  get key() {
    return this.e.key
  }
  /** As the log has it: a producer's event is keyed by its place in the sequence. */
  get dedupeKey() {
    return this.e.producer === undefined ? this.e.dedupeKey : sequenceKey(this.e.producer, this.e.seq!)
  }
  get contentType() {
    return this.e.contentType
  }
  get headersJson() {
    return this.e.headersJson
  }
  get encKey() {
    return this.e.encKey
  }
  get dataJson() {
    return this.e.dataJson
  }
  get data() {
    return payloadOf(this.e)
  }
}
/** Batches of one partition pipelined on its connection. */
const MAX_IN_FLIGHT = 4

/**
 * Group commit for one partition: publishes that arrive while batches are in
 * flight wait and go together in the next one. No linger timer: an idle
 * partition writes at once; a busy one batches by itself. Batches go out on the
 * partition's own connection, several in flight: PostgreSQL runs them in the
 * order sent, back to back, with no round trip between one commit and the next.
 * A request's events share one promise, so a large batch costs one allocation,
 * not one per event.
 *
 * Nothing is stored ahead of a batch that failed: each send names the one sent
 * before it while that one is in flight, and `ql_append` refuses it unless that
 * one was stored. Once a send fails, no new batch is taken until those in
 * flight have settled: a batch retried here (a deadlock, a dedupe conflict) is
 * sent again first, then the ones that fell with it, in their order; when it
 * fails for good, so do they, and the queued publishes of its producers, with
 * `out_of_order` (a producer resends them in order).
 *
 * A batch the database refuses for what it holds (a data exception, a
 * constraint, a program limit: the statement changed nothing) is written
 * again one request at a time, in order, so the one at fault fails alone, with
 * 400, and the requests that shared its group commit are stored.
 */
export class PartitionWriter {
  private queue: Group[] = []
  private queuedEvents = 0
  private inFlightEvents = 0
  private running = false
  private lastTimeMs = 0
  /** Resolves once the batch sent last has gone out on the connection. */
  private sentLast: Promise<void> = Promise.resolve()
  /** The latest send, which the next one follows while it is not stored. */
  private lastSent: Sent | undefined
  /** Numbers sends from a random start: no other writer's numbers meet them in practice. */
  private nextNo = Math.floor(Math.random() * 2 ** 52)
  /** A send failed: no new batch is taken until the batches in flight have settled. */
  private recovering = false

  constructor(
    private readonly topic: () => WriterTopic,
    readonly partition: number,
    private readonly deps: WriterDeps,
  ) {}

  /** Events accepted and not yet committed: waiting, and in batches in flight (what back-pressure weighs). */
  get queued(): number {
    return this.queuedEvents + this.inFlightEvents
  }

  append(events: NewEvent[]): Promise<WriteResult[]> {
    const done = new Promise<WriteResult[]>((resolve, reject) => {
      this.queue.push({
        events,
        taken: 0,
        results: new Array(events.length).fill(undefined),
        resolve,
        reject,
      })
    })
    this.queuedEvents += events.length
    if (!this.running) void this.run()
    return done
  }

  /** Fails everything still queued (topic deleted, broker stopping). */
  failAll(error: unknown): void {
    const q = this.queue
    this.queue = []
    this.queuedEvents = 0
    for (const g of q) g.reject(error)
  }

  /** Takes whole groups up to the batch limit (a larger group is written in slices, in order). */
  private take(): { slots: Slot[]; groups: Group[]; partial: boolean } {
    const slots: Slot[] = []
    const groups: Group[] = []
    let partial = false
    while (this.queue.length > 0 && slots.length < this.deps.maxBatchEvents) {
      const g = this.queue[0]!
      const from = g.taken
      const count = Math.min(g.events.length - from, this.deps.maxBatchEvents - slots.length)
      for (let i = from; i < from + count; i++) slots.push({ group: g, index: i })
      g.taken += count
      groups.push(g)
      if (g.taken === g.events.length) this.queue.shift()
      else {
        partial = true
        break
      }
    }
    this.queuedEvents -= slots.length
    return { slots, groups, partial }
  }

  /** Writes batches, up to MAX_IN_FLIGHT of them pipelined on the partition's connection. */
  private async run(): Promise<void> {
    this.running = true
    const inFlight = new Set<Promise<void>>()
    try {
      while (this.queue.length > 0 || inFlight.size > 0) {
        if (inFlight.size === 0 && this.recovering) {
          // every send that fell with the failed one is settled: the next batch follows none
          this.recovering = false
          this.lastSent = undefined
        }
        if (this.queue.length === 0 || inFlight.size >= MAX_IN_FLIGHT || this.recovering) {
          await Promise.race(inFlight)
          continue
        }
        const { slots, groups, partial } = this.take()
        this.inFlightEvents += slots.length
        const write = this.write(slots).then(
          () => {
            for (const g of groups)
              if (g.results.every((r) => r !== undefined)) g.resolve(g.results as WriteResult[])
          },
          (e) => {
            for (const g of groups) g.reject(e)
            this.dropQueuedAfter(groups)
          },
        )
        const tracked = write.finally(() => {
          this.inFlightEvents -= slots.length
          inFlight.delete(tracked)
        })
        inFlight.add(tracked)
        // the next slice of a group that did not fit waits for this one: a request's events stay in order
        if (partial) await tracked
      }
    } finally {
      this.running = false
    }
  }

  /**
   * Takes out of the queue the rest of failed groups (not to be written after
   * their start failed) and the queued publishes of the same producers: stored
   * now, they would put the failed events below their producer's last seq.
   */
  private dropQueuedAfter(failed: Group[]): void {
    const producers = new Set<string>()
    for (const g of failed) for (const e of g.events) if (e.producer !== undefined) producers.add(e.producer)
    const behind = new QuestlogError(
      'out_of_order',
      `an earlier publish of the same producer failed in partition ${this.partition}; resend from it, in order`,
      { details: { partition: this.partition } },
    )
    this.queue = this.queue.filter((g) => {
      const rest = failed.includes(g)
      if (!rest && !g.events.some((e) => e.producer !== undefined && producers.has(e.producer))) return true
      this.queuedEvents -= g.events.length - g.taken
      if (!rest) g.reject(behind)
      return false
    })
  }

  /** Fails one request for good: its promise, and the part of it not yet taken into a batch. */
  private abandon(g: Group, error: unknown): void {
    g.reject(error)
    const i = this.queue.indexOf(g)
    if (i < 0) return
    this.queue.splice(i, 1)
    this.queuedEvents -= g.events.length - g.taken
  }

  /**
   * Waits until every batch taken before has been sent, so batches go out (and
   * get their times and offsets) in the order taken; call the returned
   * function once this one is sent.
   */
  private async myTurn(): Promise<() => void> {
    const before = this.sentLast
    let sent!: () => void
    this.sentLast = new Promise<void>((resolve) => {
      sent = resolve
    })
    await before
    return sent
  }

  /** Writes one batch; settles its outcome for the sends that follow it. */
  private async write(batch: Slot[]): Promise<void> {
    let settle!: (stored: boolean) => void
    const outcome = new Promise<boolean>((resolve) => {
      settle = resolve
    })
    try {
      await this.store(batch, outcome)
      settle(true)
    } catch (e) {
      settle(false)
      throw e
    }
  }

  private async store(batch: Slot[], outcome: Promise<boolean>): Promise<void> {
    const started = performance.now()
    const topic = this.topic()
    const event = (s: Slot) => s.group.events[s.index]!
    const settle = (s: Slot, r: WriteResult) => {
      s.group.results[s.index] = r
    }
    /** A repeat of an event stored before: it, and its followers in this batch, get the original's receipt. */
    const settleRepeat = (s: Slot, original: DedupeReceipt) => {
      const receipt = { ...original, duplicate: true }
      settle(s, receipt)
      for (const f of followers.get(s) ?? []) settle(f, receipt)
    }
    // a dedupe key (or a producer's seq) seen twice in one batch: the first one is written, the rest
    // share its receipt
    const firstByKey = new Map<string, Slot>()
    const followers = new Map<Slot, Slot[]>()
    let toWrite: Slot[] = []
    for (const s of batch) {
      const e = event(s)
      const k = e.producer !== undefined ? `\u0000${sequenceKey(e.producer, e.seq!)}` : e.dedupeKey
      const first = k === null ? undefined : firstByKey.get(k)
      if (first) followers.get(first)?.push(s) ?? followers.set(first, [s])
      else {
        if (k !== null) firstByKey.set(k, s)
        toWrite.push(s)
      }
    }
    const duplicates: Slot[] = []
    /** Events their producer had stored already, with the offset the batch that found them started at. */
    const repeated: Array<{ slot: Slot; before: number }> = []
    /**
     * What is left to write, in order: the batch, or, once the database refused it for what it held,
     * each request's events apart, so that one bad request fails alone.
     */
    const parts: Slot[][] = [toWrite]
    /** A send again: everything sent since the one that failed falls with it, so it follows none. */
    let again = false
    let retries = 0
    while (parts.length > 0) {
      toWrite = parts[0]!
      const sent = await this.myTurn()
      const previous = this.lastSent
      const me: Sent = {
        no: this.nextNo++,
        stored: undefined,
        after: again || previous?.stored === true ? undefined : previous,
        outcome,
      }
      this.lastSent = me
      try {
        const nowMs = Math.max(Date.now(), this.lastTimeMs)
        // times never go back along a partition's offsets
        this.lastTimeMs = nowMs
        const time = new Date(nowMs)
        let writing: Promise<Appended>
        const events = toWrite.map(event)
        try {
          await this.deps.segments.ensure(topic.id, topic.segmentMs, nowMs)
          writing = writeBatch(this.deps.lane(), {
            topicId: topic.id,
            partition: this.partition,
            time,
            events,
            batch: me.no,
            after: me.after?.no ?? null,
            dedupeCutoff: new Date(nowMs - topic.dedupeWindowMs),
            notifyChannel: this.deps.notifyChannel,
            notifyPrefix: this.deps.notifyPrefix(topic.id, this.partition),
          })
        } finally {
          sent()
        }
        const { base, repeats } = await writing
        me.stored = true
        let written = toWrite
        if (repeats.length > 0) {
          const skip = new Set(repeats)
          for (const i of skip) repeated.push({ slot: toWrite[i]!, before: base })
          written = toWrite.filter((_, i) => !skip.has(i))
        }
        if (written.length > 0) {
          const stored = written.map(event)
          this.deps.onCommitted(topic.id, this.partition, base, () =>
            stored.map((e, i) => new CommittedEvent(e, this.partition, base + i, time)),
          )
        }
        written.forEach((s, i) => {
          const receipt = { id: event(s).id, partition: this.partition, offset: base + i, duplicate: false }
          settle(s, receipt)
          for (const f of followers.get(s) ?? []) settle(f, { ...receipt, duplicate: true })
        })
        parts.shift()
        again = false
        retries = 0
      } catch (e) {
        if (me.stored === undefined) {
          me.stored = false
          this.recovering = true
        }
        const lockWait = (e as { code?: unknown }).code === LOCK_NOT_AVAILABLE
        // waiting on the partition's lock, held elsewhere: the next sends go on a connection of their own
        if (lockWait) this.deps.isolate()
        if (e instanceof PredecessorNotStored || (lockWait && me.after !== undefined)) {
          // sent again once the batch it followed is stored, or failed with it
          if (!(await me.after!.outcome)) {
            throw new QuestlogError(
              'out_of_order',
              `a batch written before this one failed in partition ${this.partition}; resend in order`,
              { details: { partition: this.partition } },
            )
          }
        } else if (e instanceof DedupeConflict) {
          duplicates.push(...toWrite.filter((s) => e.keys.has(event(s).dedupeKey ?? '')))
          parts[0] = toWrite.filter((s) => !e.keys.has(event(s).dedupeKey ?? ''))
          if (parts[0].length === 0) parts.shift()
        } else if (refusedFor(e)) {
          const requests = byGroup(toWrite)
          if (requests.length > 1) parts.splice(0, 1, ...requests)
          else {
            // this request alone is at fault: it fails, and so does any in the batch that repeats one of its events
            const refused = new BadRequestError(
              `the database refused this publish: ${(e as Error).message}`,
              {
                details: { sqlstate: (e as { code: string }).code },
              },
            )
            this.abandon(toWrite[0]!.group, refused)
            for (const s of toWrite) for (const f of followers.get(s) ?? []) this.abandon(f.group, refused)
            parts.shift()
          }
        } else if ((!lockWait && !RETRYABLE_PG.has((e as { code?: string }).code ?? '')) || ++retries > 5) {
          throw e
        }
        // the statement changed nothing (a refusal, a deadlock or serialization failure rolls it back): a retry is safe
        again = true
      }
    }
    if (repeated.length > 0) {
      const keyOf = (s: Slot) => sequenceKey(event(s).producer!, event(s).seq!)
      const before = Math.max(...repeated.map((r) => r.before))
      const originals = await sequenceReceipts(
        this.deps.sql,
        topic.id,
        this.partition,
        repeated.map((r) => keyOf(r.slot)),
        before,
      )
      for (const { slot } of repeated) {
        const o = originals.get(keyOf(slot))
        if (!o) {
          const e = event(slot)
          // this request alone fails: the rest of the batch was written
          slot.group.reject(
            new BadRequestError(
              `event ${e.seq} of producer '${e.producer}' is at or below the last one stored in partition ${this.partition}, and that event is not in the log: a producer's seq must increase within a partition`,
              { details: { producer: e.producer, seq: e.seq, partition: this.partition } },
            ),
          )
          continue
        }
        settleRepeat(slot, o)
      }
    }
    if (duplicates.length > 0) {
      const originals = await dedupeReceipts(
        this.deps.sql,
        topic.id,
        duplicates.map((s) => event(s).dedupeKey!),
      )
      for (const s of duplicates) {
        const o = originals.get(event(s).dedupeKey!)
        // the original expired between the conflict and this read: extremely rare, and retryable
        if (!o) throw Object.assign(new Error('dedupe record vanished; retry'), { code: '40001' })
        settleRepeat(s, o)
      }
    }
    this.deps.onBatch(batch.length, (performance.now() - started) / 1000)
  }
}
