import type {
  ClientFrame,
  DeliveredEvent,
  Envelope,
  QuestlogError,
  SubscribedFrame,
  SubscribeFrame,
  SubscribeFrom,
} from '@questlog/protocol'
import { randomId } from './dedupe'
import { ClientClosedError } from './errors'
import type { Session, SessionSubscriber } from './session'

export interface SubscribeOptions {
  /**
   * Consume this named subscription (created over HTTP or the admin API) with its
   * queue or stream semantics: per-event `ack`/`nak`/`term`, redelivery, dead
   * letters, partitions divided among members. The connection joins as one member.
   */
  subscription?: string
  /**
   * With `subscription`: the ordering this consumer relies on. `key` (a key-ordered queue): the broker
   * hands out one event of a key at a time, the next once this one is acked, dead-lettered or its
   * ack wait ran out; the subscribe fails with `conflict` if the subscription was created otherwise.
   * Events held across a lost connection stay this member's: settle them, and they are settled.
   */
  ordering?: 'none' | 'key'
  /**
   * Consumer group: subscriptions with the same group divide the topic's partitions among them,
   * whichever broker each is on, and move a member's partitions to the others when it leaves or
   * falls silent. Acked positions are kept by the broker; a member taking a partition over gets
   * exactly the events nobody acked. Acks of events whose partition moved away fail with
   * `attempt_expired`.
   */
  group?: string
  /** A group member silent this long counts as gone and its partitions move (default 10 000 ms). */
  sessionTimeoutMs?: number
  /** Start here when there is no cursor and no committed group position (default `latest`). */
  from?: SubscribeFrom
  /** A cursor from an event received earlier: resume right after it. */
  cursor?: string
  /** Read one partition only. */
  partition?: number
  /** Only events whose type matches this subject pattern. */
  type?: string
  /** Only events with this key. */
  key?: string
  /** Most un-acked events the broker may send ahead (default 1000). */
  credits?: number
  /** `auto` acks each event when the next one is asked for; default `manual` with a group, `auto` without. */
  ack?: 'auto' | 'manual'
  /** Ends the subscription. */
  signal?: AbortSignal
}

/** An event as a subscriber receives it. */
export interface ReceivedEvent<T = unknown> extends Omit<Envelope, 'data'> {
  data: T
  /** Opaque position right after this event; pass as `cursor` to resume there. */
  cursor: string
  /** How many times this event was delivered before. */
  redelivery: number
  /** Marks the event processed; with a group, resolves once the broker stored the position. */
  ack(): Promise<void>
  /** Asks for the event again, after `delayMs` (a named subscription uses its backoff when absent). */
  nak(delayMs?: number): void
  /** Dead-letters the event at once (named subscriptions only). */
  term(reason?: string): Promise<void>
}

const ACK_BATCH = 500

/** What `subscribe` returns, whatever carries the events. */
export interface EventSubscription<T = unknown> extends AsyncIterable<ReceivedEvent<T>> {
  /** Cursor of the last event received: resume after it with `{ cursor }`. */
  readonly cursor: string | undefined
  /** Partitions read and the offset each started from, once the broker placed the subscription (WebSocket only). */
  readonly positions: Readonly<Record<string, string>>
  /** Stops the subscription; iteration ends after events already received. */
  close(): void
}

/** A live subscription: an async iterable of events that survives reconnects without gaps. */
export class Subscription<T = unknown> implements EventSubscription<T>, SessionSubscriber {
  private readonly queue: DeliveredEvent[] = []
  private wake: (() => void) | undefined
  private ended = false
  private error: QuestlogError | undefined
  private lastCursor: string | undefined
  private previous: ReceivedEvent<T> | undefined
  private acks: Array<[number, string]> = []
  private ackWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = []
  private ackTimer: ReturnType<typeof setTimeout> | undefined
  private iterating = false
  private readonly autoAck: boolean
  /** Partitions and start offsets the broker reported on the latest (re)subscribe or group assignment. */
  positions: Record<string, string> = {}
  /** This subscription's id in its group, kept across reconnects so it takes its partitions back at once. */
  private readonly member = `m-${randomId(16)}`

  constructor(
    private readonly session: Session,
    readonly sid: string,
    readonly topic: string,
    private readonly o: SubscribeOptions,
  ) {
    this.autoAck = (o.ack ?? (o.group || o.subscription ? 'manual' : 'auto')) === 'auto'
    this.lastCursor = o.cursor
    o.signal?.addEventListener('abort', () => this.end(), { once: true })
    if (o.signal?.aborted) this.ended = true
    else session.addSubscriber(sid, this)
  }

  /** The cursor of the last event received: resume after it with `{ cursor }`. */
  get cursor(): string | undefined {
    return this.lastCursor
  }

  onOpen(session: Session): void {
    if (this.o.subscription !== undefined) {
      const credits = this.o.credits ?? 1000
      const ordering = this.o.ordering === undefined ? {} : { ordering: this.o.ordering }
      session.send({
        op: 'subscribe',
        sid: this.sid,
        subscription: this.o.subscription,
        credits,
        ...ordering,
      })
      return
    }
    const f: SubscribeFrame = { op: 'subscribe', sid: this.sid, topic: this.topic }
    if (this.o.group !== undefined) {
      f.group = this.o.group
      f.member = this.member
      if (this.o.sessionTimeoutMs !== undefined) f.sessionTimeoutMs = this.o.sessionTimeoutMs
    }
    // a group resumes from its committed positions, so unacked events come again
    const cursor = this.o.group === undefined ? this.lastCursor : this.o.cursor
    if (cursor !== undefined) f.cursor = cursor
    else if (this.o.from !== undefined) f.from = this.o.from
    if (this.o.partition !== undefined) f.partition = this.o.partition
    if (this.o.type !== undefined) f.type = this.o.type
    if (this.o.key !== undefined) f.key = this.o.key
    f.credits = this.o.credits ?? 1000
    session.send(f)
  }

  onLost(): void {
    // the broker redelivers a group's unacked events; drop the local copies so they are not doubled.
    // A key-ordered queue keeps them: they are still this member's, and its tokens settle on any broker
    if (this.o.ordering === 'key') return
    if (this.o.group !== undefined || this.o.subscription !== undefined) this.queue.length = 0
    this.acks = []
  }

  onSubscribed(frame: SubscribedFrame): void {
    this.positions = frame.positions
    // before its first event, a subscription resumes where it started, not at a later `latest`
    if (this.lastCursor === undefined && frame.cursor !== undefined) this.lastCursor = frame.cursor
    if (this.o.group === undefined) return
    // partitions that moved to another member: their new owner delivers what is not acked
    for (let i = this.queue.length - 1; i >= 0; i--)
      if (!(String(this.queue[i]!.event.partition) in frame.positions)) this.queue.splice(i, 1)
  }

  onEvents(events: DeliveredEvent[]): void {
    if (this.ended) return
    for (const e of events) {
      this.queue.push(e)
      if (!e.redelivery) this.lastCursor = e.cursor
    }
    this.poke()
  }

  onError(error: QuestlogError): void {
    this.error = error
    this.end()
  }

  /** Stops the subscription; iteration ends after events already received. */
  close(): void {
    this.end()
  }

  [Symbol.asyncIterator](): AsyncIterator<ReceivedEvent<T>> {
    if (this.iterating) throw new Error('a subscription can be iterated only once at a time')
    this.iterating = true
    return {
      next: async () => {
        if (this.autoAck && this.previous) void this.previous.ack().catch(() => {})
        this.previous = undefined
        for (;;) {
          const d = this.queue.shift()
          if (d) {
            const ev = this.wrap(d)
            this.previous = ev
            return { value: ev, done: false }
          }
          if (this.ended) {
            this.iterating = false
            if (this.error) {
              const e = this.error
              this.error = undefined
              throw e
            }
            return { value: undefined, done: true }
          }
          await new Promise<void>((resolve) => {
            this.wake = resolve
          })
        }
      },
      return: async () => {
        this.iterating = false
        this.end()
        return { value: undefined, done: true }
      },
    }
  }

  private wrap(d: DeliveredEvent): ReceivedEvent<T> {
    if (d.token !== undefined) return this.wrapDelivery(d, d.token)
    return new StreamEvent<T>(this, d)
  }

  /** Settles an event of a plain subscription or a group (see StreamEvent). */
  settleStream(e: { partition: number; offset: string }, nak: boolean, delayMs?: number): Promise<void> {
    if (!nak) return this.ack([e.partition, e.offset])
    this.session.send({
      op: 'nak',
      sid: this.sid,
      partition: e.partition,
      offset: e.offset,
      ...(delayMs === undefined ? {} : { delayMs }),
    })
    return Promise.resolve()
  }

  /** An event of a named subscription: settled by its token, each settlement answered by the broker. */
  private wrapDelivery(d: DeliveredEvent, token: string): ReceivedEvent<T> {
    let settled: Promise<void> | undefined
    const settle = (make: (id: number) => ClientFrame) => {
      settled ??= this.session.request(make).then(() => {})
      return settled
    }
    return {
      ...(d.event as Omit<Envelope, 'data'> & { data: T }),
      cursor: d.cursor,
      redelivery: d.redelivery ?? 0,
      ack: () => settle((id) => ({ op: 'ack', sid: this.sid, tokens: [token], id })),
      nak: (delayMs?: number) => {
        const frame = (id: number): ClientFrame => ({
          op: 'nak',
          sid: this.sid,
          token,
          id,
          ...(delayMs === undefined ? {} : { delayMs }),
        })
        // an expired attempt is redelivered anyway: nothing for the caller to do
        settle(frame).catch(() => {})
      },
      term: (reason?: string) =>
        settle((id) => ({
          op: 'term',
          sid: this.sid,
          token,
          id,
          ...(reason === undefined ? {} : { reason }),
        })),
    }
  }

  private ack(ref: [number, string]): Promise<void> {
    this.acks.push(ref)
    const p = new Promise<void>((resolve, reject) => this.ackWaiters.push({ resolve, reject }))
    if (this.acks.length >= ACK_BATCH) this.flushAcks()
    else this.ackTimer ??= setTimeout(() => this.flushAcks(), 0)
    return p
  }

  private flushAcks(): void {
    clearTimeout(this.ackTimer)
    this.ackTimer = undefined
    const acks = this.acks
    const waiters = this.ackWaiters
    this.acks = []
    this.ackWaiters = []
    if (acks.length === 0) {
      for (const w of waiters) w.resolve()
      return
    }
    if (this.o.group === undefined) {
      this.session.send({ op: 'ack', sid: this.sid, acks })
      for (const w of waiters) w.resolve()
      return
    }
    this.session
      .request((id) => ({ op: 'ack', sid: this.sid, acks, id }))
      .then(
        () => {
          for (const w of waiters) w.resolve()
        },
        (e: Error) => {
          for (const w of waiters) w.reject(e)
        },
      )
  }

  private end(): void {
    if (this.ended) return
    this.ended = true
    this.flushAcks()
    this.session.removeSubscriber(this.sid)
    this.poke()
  }

  private poke(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }
}

/**
 * An event of a plain subscription or a consumer group, as the caller gets it:
 * the envelope's fields as its own (one object of a fixed shape per event), and
 * `ack`/`nak` on the prototype rather than closures made for every event.
 */
class StreamEvent<T> implements ReceivedEvent<T> {
  readonly id: string
  readonly topic: string
  readonly partition: number
  readonly offset: string
  readonly type: string
  readonly source: string
  readonly time: string
  readonly key: string | null
  readonly dedupeKey: string | null
  readonly contentType: string
  readonly headers: Record<string, string>
  readonly data: T
  readonly dataBase64?: string
  readonly cursor: string
  readonly redelivery: number
  #settled: Promise<void> | undefined
  readonly #owner: Subscription<T>

  constructor(owner: Subscription<T>, d: DeliveredEvent) {
    const e = d.event
    this.id = e.id
    this.topic = e.topic
    this.partition = e.partition
    this.offset = e.offset
    this.type = e.type
    this.source = e.source
    this.time = e.time
    this.key = e.key
    this.dedupeKey = e.dedupeKey
    this.contentType = e.contentType
    this.headers = e.headers
    this.data = e.data as T
    if (e.dataBase64 !== undefined) this.dataBase64 = e.dataBase64
    this.cursor = d.cursor
    this.redelivery = d.redelivery ?? 0
    this.#owner = owner
  }

  ack(): Promise<void> {
    this.#settled ??= this.#owner.settleStream(this, false)
    return this.#settled
  }

  nak(delayMs?: number): void {
    if (this.#settled) return
    this.#settled = this.#owner.settleStream(this, true, delayMs)
  }

  term(): Promise<void> {
    return Promise.reject(new ClientClosedError('term needs a named subscription (`subscription` option)'))
  }
}
