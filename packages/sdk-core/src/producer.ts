import {
  type BackpressureHint,
  isQuestlogError,
  newEventId,
  type PublishEvent,
  QuestlogError,
  type Receipt,
} from '@questlog/protocol'
import { type BatchLimits, batchIsFull, nextBatchSize } from './batcher'
import { BoundedBuffer, type OverrunPolicy } from './buffer'
import type { BatchColumns } from './columns'
import { Deadline } from './deadline'
import { AbortedError, EventDroppedError } from './errors'
import { Pacer } from './pacer'
import { type BackoffOptions, backoffDelay, RetryBudget, type RetryBudgetOptions } from './retry'
import { sleep } from './sleep'

export interface BatchResult {
  receipts: Receipt[]
  backpressure?: BackpressureHint | undefined
}

/** A batch serialized as it formed: its events as one JSON array, or in columns. */
export type EncodedBatch = { readonly json: string } | BatchColumns

/** Where a batch stands among the client's batches in flight. */
export interface BatchOrder {
  /** Goes with the batch for the broker's ordering fence (see the publish frame). */
  epoch: number
  /**
   * Batches sent before this one are still in flight. It may then go only on
   * the connection they went on, where the broker's fence keeps it behind them;
   * with that connection gone, the sender refuses it (`out_of_order`) unsent,
   * and it is sent again once the batches ahead of it are settled.
   */
  behind: boolean
}

/**
 * Sends one batch of one topic; rejects with a QuestlogError (retryable or not).
 * `encoded`, when given, is `events` serialized, ready to go into a frame.
 */
export type SendBatch = (
  topic: string,
  events: PublishEvent[],
  deadline: Deadline,
  encoded: EncodedBatch | undefined,
  order: BatchOrder,
) => Promise<BatchResult>

export interface ProducerOptions extends BatchLimits {
  /** How long a batch that is not full waits for more events, in ms. */
  lingerMs: number
  /** Most events waiting to be sent. */
  bufferCapacity: number
  /** What `publish` does when the buffer is full. */
  overrun: OverrunPolicy
  backoff: BackoffOptions
  retryBudget: RetryBudgetOptions
  /** A batch not stored within this time fails, in ms. */
  deliveryTimeoutMs: number
  /**
   * Most batches sent and not yet answered, read before each send: more than one
   * only where the transport keeps the order of sends (one WebSocket).
   */
  maxInFlight: () => number
  /** The batch in columns, when the connection takes them and its events fit (else it goes as JSON). */
  columns?: (events: PublishEvent[]) => BatchColumns | undefined
}

/** A batch sent and not yet settled. */
interface Flight {
  batch: QueuedEvent[]
  encoded: EncodedBatch | undefined
  deadline: Deadline
  /** Settles with the first attempt: undefined when stored, else why not. */
  first: Promise<QuestlogError | undefined>
}

const ignore = () => {}

/** A published event waiting for its receipt. */
export class QueuedEvent {
  /** JSON size; -1 until the sender measures it. */
  bytes = -1
  /** The event's JSON, from measuring it (sent as it is). */
  json: string | undefined = undefined
  /** Settles with the event's receipt, or fails with why it was not stored. */
  readonly receipt: Promise<Receipt>
  resolve!: (r: Receipt) => void
  private fail!: (e: Error) => void

  constructor(
    readonly topic: string,
    readonly event: PublishEvent,
    readonly signal?: AbortSignal | undefined,
  ) {
    this.receipt = new Promise<Receipt>((resolve, fail) => {
      this.resolve = resolve
      this.fail = fail
    })
  }

  reject(e: Error): void {
    // a caller that fires and forgets must not crash the process with an unhandled rejection;
    // marked handled as it fails, since a handler on every receipt would cost more than the rest of publish
    this.receipt.catch(ignore)
    this.fail(e)
  }
}

/** What the producer did so far. */
export interface ProducerStats {
  /** Events stored (receipts received), duplicates included. */
  stored: number
  batches: number
  retries: number
  /** Events dropped by the overrun policy. */
  dropped: number
  /** Times the broker asked this client to slow down. */
  slowdowns: number
  /** Events waiting in the buffer. */
  buffered: number
  /** Publishes waiting for room under overrun policy `block`. */
  blocked: number
  /** Events the broker lets this client have in flight now. */
  credits: number
  /** Time spent holding batches back because the broker asked to slow down, in ms. */
  pausedMs: number
}

/**
 * The publish pipeline: a bounded buffer drained by one sender, batch by batch,
 * with up to `maxInFlight` batches awaiting their receipts. Per-key order holds
 * through failures: when a batch fails, nothing new is sent until every batch
 * in flight has its answer; the failed ones are then sent again one at a time,
 * in their first order, under a newer epoch. None is stored ahead of a failed
 * one: the broker refuses the batches sent after it on its connection, and a
 * batch never goes on a newer connection than the batches ahead of it did.
 */
export class Producer {
  readonly buffer: BoundedBuffer<QueuedEvent>
  readonly pacer: Pacer
  private readonly budget: RetryBudget
  /** Events in the batches in flight. */
  private inFlight = 0
  private flights: Flight[] = []
  private epoch = 0
  private stored = 0
  private batches = 0
  private retries = 0
  private pausedMs = 0
  private urgent = 0
  private closing = false
  private readonly idleWaiters: Array<() => void> = []
  private readonly stopLinger = new Set<() => void>()
  private readonly done: Promise<void>

  constructor(
    private readonly o: ProducerOptions,
    private readonly send: SendBatch,
  ) {
    this.buffer = new BoundedBuffer<QueuedEvent>(o.bufferCapacity, o.overrun, (q) =>
      q.reject(new EventDroppedError(o.overrun)),
    )
    this.pacer = new Pacer(Number.POSITIVE_INFINITY)
    this.budget = new RetryBudget(o.retryBudget)
    this.done = this.run()
  }

  /** Queues one event; the promise settles with its receipt. Throws BufferFullError under policy `error`. */
  enqueue(q: QueuedEvent): undefined | Promise<void> {
    if (this.closing) throw new AbortedError('the client is closing')
    return this.buffer.push(q)
  }

  stats(): ProducerStats {
    return {
      stored: this.stored,
      batches: this.batches,
      retries: this.retries,
      dropped: this.buffer.dropped,
      slowdowns: this.pacer.slowdowns,
      buffered: this.buffer.length,
      blocked: this.buffer.waiting,
      credits: this.pacer.credits,
      pausedMs: Math.round(this.pausedMs),
    }
  }

  /** Sends everything queued now without lingering; resolves when nothing is queued or in flight. */
  async flush(): Promise<void> {
    this.urgent++
    for (const w of this.stopLinger) w()
    try {
      while (this.buffer.length > 0 || this.buffer.waiting > 0 || this.inFlight > 0) {
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
      }
    } finally {
      this.urgent--
    }
  }

  /** Flushes, then stops the sender. */
  async close(): Promise<void> {
    await this.flush()
    this.closing = true
    this.buffer.wake()
    await this.done
  }

  /**
   * For a last-chance send as the page unloads: the batches in flight (sending them
   * twice is harmless: their sequence numbers make the second copy a no-op) and every
   * queued event, which leave the queue.
   */
  takeAll(): QueuedEvent[] {
    return [...this.flights.flatMap((f) => f.batch), ...this.buffer.shift(this.buffer.length)]
  }

  /** Sizes the events that could join the next batch (callers enqueue them unsized). */
  private measure(): void {
    const n = Math.min(this.buffer.length, this.o.maxEvents)
    for (let i = 0; i < n; i++) {
      const q = this.buffer.at(i)!
      if (q.bytes < 0) {
        q.event.id ??= newEventId()
        q.json = eventJson(q.event)
        q.bytes = q.json?.length ?? 64
      }
    }
  }

  private limits(): BatchLimits {
    return {
      // the broker's credits count every event in flight
      maxEvents: Math.max(1, Math.min(this.o.maxEvents, this.pacer.credits - this.inFlight)),
      maxBytes: this.o.maxBytes,
    }
  }

  private async run(): Promise<void> {
    for (;;) {
      await this.settleLanded()
      const room =
        this.flights.length < Math.max(1, this.o.maxInFlight()) && this.inFlight < this.pacer.credits
      if (this.buffer.length === 0 || !room) {
        if (this.buffer.length === 0 && this.flights.length === 0) {
          for (const w of this.idleWaiters.splice(0)) w()
          if (this.closing) return
        }
        const landing = this.flights[0]?.first
        await (this.buffer.length === 0 && room
          ? landing
            ? Promise.race([this.buffer.whenNotEmpty(), landing])
            : this.buffer.whenNotEmpty()
          : landing)
        continue
      }
      // nothing to linger for: the head of the queue goes as it is, serialized in one piece
      const whole = this.urgent > 0 || this.o.lingerMs <= 0 ? this.wholeBatch() : undefined
      if (whole) {
        await this.launch(this.buffer.shift(whole.n), whole.encoded)
        continue
      }
      this.measure()
      if (this.urgent === 0 && this.o.lingerMs > 0 && !batchIsFull(this.buffer, this.limits())) {
        await this.linger()
        this.measure()
      }
      const n = nextBatchSize(this.buffer, this.limits())
      if (n === 0) continue
      const batch = this.buffer.shift(n).filter((q) => {
        if (!q.signal?.aborted) return true
        q.reject(new AbortedError(q.signal.reason))
        return false
      })
      if (batch.length === 0) continue
      const json = jsonOf(batch)
      await this.launch(batch, json === undefined ? undefined : { json })
    }
  }

  /**
   * The next batch without sizing its events one by one: the events at the head
   * of the queue (one topic, up to the event limit) in columns or as one JSON
   * text, when that fits the byte limit and none was cancelled. One string per
   * batch, not one per event: the sender's garbage is the frame alone.
   */
  private wholeBatch(): { n: number; encoded: EncodedBatch } | undefined {
    const limits = this.limits()
    const first = this.buffer.at(0)!
    const max = Math.min(this.buffer.length, limits.maxEvents)
    const events: PublishEvent[] = []
    for (let i = 0; i < max; i++) {
      const q = this.buffer.at(i)!
      if (q.topic !== first.topic) break
      if (q.signal?.aborted || q.bytes >= 0) return undefined
      // named here, off the caller's path: the broker can then answer with receipt runs
      q.event.id ??= newEventId()
      events.push(q.event)
    }
    const columns = this.o.columns?.(events)
    if (columns) {
      if (columns.payloads.length + columns.columns.length > limits.maxBytes && events.length > 1)
        return undefined
      return { n: events.length, encoded: columns }
    }
    let json: string
    try {
      json = JSON.stringify(events)
    } catch {
      return undefined
    }
    if (json.length > limits.maxBytes && events.length > 1) return undefined
    return { n: events.length, encoded: { json } }
  }

  /** Sends a batch (after any pause the broker asked for) and keeps it in flight until it settles. */
  private async launch(batch: QueuedEvent[], encoded: EncodedBatch | undefined): Promise<void> {
    const deadline = new Deadline(this.o.deliveryTimeoutMs)
    this.budget.request()
    try {
      await this.paced(batch.length, deadline)
    } catch (e) {
      for (const q of batch) q.reject(toQuestlogError(e))
      return
    }
    this.inFlight += batch.length
    const behind = this.flights.length > 0
    this.flights.push({ batch, encoded, deadline, first: this.attempt(batch, encoded, deadline, behind) })
  }

  private linger(): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer)
        this.stopLinger.delete(finish)
        resolve()
      }
      const timer = setTimeout(finish, this.o.lingerMs)
      this.stopLinger.add(finish)
    })
  }

  /** Waits as long as the broker asked before a batch of `n` events goes out. */
  private async paced(n: number, deadline: Deadline): Promise<void> {
    const wait = this.pacer.delayFor(n)
    if (wait > 0) {
      const t0 = performance.now()
      await sleep(wait, deadline.signal())
      this.pausedMs += performance.now() - t0
    }
    this.pacer.sent()
  }

  /** One send of a batch: undefined once it is stored (its receipts handed out), else the error. */
  private async attempt(
    batch: QueuedEvent[],
    encoded: EncodedBatch | undefined,
    deadline: Deadline,
    behind: boolean,
  ): Promise<QuestlogError | undefined> {
    try {
      const result = await this.send(
        batch[0]!.topic,
        batch.map((q) => q.event),
        deadline,
        encoded,
        { epoch: this.epoch, behind },
      )
      this.batches++
      this.stored += batch.length
      if (result.backpressure) this.pacer.onHint(result.backpressure)
      else this.pacer.onClear()
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(result.receipts[i]!)
      return undefined
    } catch (e) {
      return toQuestlogError(e)
    }
  }

  /**
   * Retires the batches at the head of the flight list that have settled. When
   * one failed, waits for every batch in flight, then sends the failed ones again,
   * one at a time and in order, before anything new goes out.
   */
  private async settleLanded(): Promise<void> {
    const failures = new Map<Flight, QuestlogError>()
    for (;;) {
      const head = this.flights[0]
      if (!head) return
      const outcome = await Promise.race([head.first, NOT_YET])
      if (outcome === NOT_YET) return
      if (outcome !== undefined) {
        const all = await Promise.all(this.flights.map((f) => f.first))
        this.flights.forEach((f, i) => {
          if (all[i] !== undefined) failures.set(f, all[i]!)
        })
        // batches sent after this failure were refused by the broker; resend under a newer epoch
        this.epoch++
        for (const f of this.flights) {
          const error = failures.get(f)
          if (error) await this.recover(f, error)
        }
        this.flights = []
        this.inFlight = 0
        return
      }
      this.flights.shift()
      this.inFlight -= head.batch.length
    }
  }

  /** Sends a failed batch again until it is stored or fails for good, as a lone batch in flight. */
  private async recover(f: Flight, firstError: QuestlogError): Promise<void> {
    let batch = f.batch
    let encoded = f.encoded
    let error = firstError
    let attempt = 0
    for (;;) {
      // one bad event must not sink the batch it happened to share: fail it alone, send the rest
      const bad = offendingEvent(error, batch.length)
      if (bad !== undefined) {
        batch[bad]!.reject(error)
        batch = batch.filter((_, i) => i !== bad)
        if (batch.length === 0) return
        encoded = undefined
      } else if (error.code !== 'out_of_order') {
        // (a batch refused for coming after a failed one is sent again at once)
        if (error.code === 'backpressure' || error.code === 'rate_limited') {
          this.pacer.onRefused(Number(error.details?.retryAfterMs ?? 1000))
        }
        if (!error.retryable || f.deadline.passed || !this.budget.tryRetry()) {
          for (const q of batch) q.reject(error)
          return
        }
        this.retries++
        try {
          await sleep(backoffDelay(attempt++, this.o.backoff), f.deadline.signal())
        } catch {
          for (const q of batch) q.reject(error)
          return
        }
      }
      try {
        await this.paced(batch.length, f.deadline)
      } catch {
        for (const q of batch) q.reject(error)
        return
      }
      // the failed batches ahead of it are settled by now
      const next = await this.attempt(batch, encoded, f.deadline, false)
      if (next === undefined) return
      error = next
      // a newer epoch for each resend: the broker fenced the one that just failed
      this.epoch++
    }
  }
}

const NOT_YET = Symbol('not yet')

function toQuestlogError(e: unknown): QuestlogError {
  return isQuestlogError(e) ? e : new QuestlogError('internal', String(e), { cause: e })
}

/** The index of the event a validation or size error names (`events.3.data…`), if it names one. */
function offendingEvent(error: QuestlogError, size: number): number | undefined {
  if (error.code !== 'validation_error' && error.code !== 'payload_too_large') return undefined
  const issues = (error.details?.issues as Array<{ path?: string }> | undefined) ?? []
  const path = issues[0]?.path ?? (error.details?.path as string | undefined) ?? ''
  const m = /^events\.(\d+)(\.|$)/.exec(path)
  const i = m ? Number(m[1]) : Number.NaN
  return Number.isInteger(i) && i < size && size > 1 ? i : undefined
}

/** An event's JSON, made once: it sizes the batch and then goes into the frame as it is. */
function eventJson(event: PublishEvent): string | undefined {
  try {
    return JSON.stringify(event)
  } catch {
    // not serializable (a cycle, a BigInt): sending it reports the error
    return undefined
  }
}

/** The batch's events as one JSON array, from their measured texts, when every one was measured. */
function jsonOf(batch: readonly QueuedEvent[]): string | undefined {
  const texts: string[] = []
  for (const q of batch) {
    if (q.json === undefined) return undefined
    texts.push(q.json)
  }
  return `[${texts.join(',')}]`
}
