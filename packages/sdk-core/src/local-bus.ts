import { type Receipt, TOPIC_NAME_PATTERN, validationErrorFromZod } from '@questlog/protocol'
import type { ZodError } from 'zod'
import { BoundedBuffer, type OverrunPolicy } from './buffer'
import { ClientClosedError, EventDroppedError } from './errors'
import { LocalEvent, type LocalEventFields } from './local-event'
import { type LocalSubscribeOptions, type LocalSubscriber, LocalSubscription } from './local-subscription'
import { checkPayload, type TopicRef, topicName } from './topic'

/**
 * When subscribers get an event: `sync` inside `publish` (an event published by a
 * handler waits until the current one has reached every subscriber), `microtask`
 * once the caller's synchronous code is done, `manual` on `drain()` (once per tick).
 */
export type DispatchMode = 'sync' | 'microtask' | 'manual'

export interface LocalBusOptions {
  /** When subscribers get an event (default `microtask`). */
  dispatch?: DispatchMode
  /** Most events waiting to be dispatched (default 65 536). */
  capacity?: number
  /** What `publish` does when the buffer is full (default `block`, as the network client). */
  overrun?: OverrunPolicy
  /** Events an iterated subscription holds unread before dispatch waits for it (default 1024). */
  subscriberCapacity?: number
  /** Gets an error thrown by an `onEvent` handler; by default it is thrown again outside dispatch. */
  onHandlerError?: (error: unknown, event: LocalEvent) => void
  /** `source` of every event (default `local`). */
  source?: string
}

/** What a local publish takes: the network client's PublishOptions that mean something in one process. */
export interface LocalPublishOptions extends LocalEventFields {}

export type LocalBatchEntry<T> = LocalPublishOptions & { data: T }

export interface LocalBusStats {
  /** Events accepted by `publish`/`emit` (dropped ones included). */
  published: number
  /** Events handed to their subscribers. */
  dispatched: number
  /** Hand-overs to subscribers (an event to three subscribers counts three). */
  delivered: number
  /** Events dropped by the overrun policy. */
  dropped: number
  /** Publishes refused under overrun policy `error`. */
  refused: number
  /** Errors thrown by `onEvent` handlers. */
  handlerErrors: number
  /** Events waiting in the buffer. */
  buffered: number
  /** Publishes waiting for room under overrun policy `block`. */
  blocked: number
}

/** Topics whose routes are cached before the cache starts again (topics named per player stay bounded). */
const MAX_ROUTES = 10_000

interface Route {
  readonly subs: LocalSubscriber[]
  /** Subscribers that may make dispatch wait (iterated ones). */
  readonly waiting: number
}

/**
 * The in-process bus: the network client's `publish`/`subscribe`/typed topics/type
 * patterns/overrun policies, dispatched inside the process with no network. One
 * bounded ring holds what is not dispatched yet; a slow iterated subscriber makes
 * dispatch wait, so the ring fills and the overrun policy decides, as a broker that
 * does not keep up does for the network client.
 */
export class LocalBus {
  readonly dispatchMode: DispatchMode
  private readonly ring: BoundedBuffer<LocalEvent>
  private readonly routes = new Map<string, Route>()
  private subs: LocalSubscriber[] = []
  private readonly subscriberCapacity: number
  private readonly source: string
  private readonly onHandlerError: (error: unknown, event: LocalEvent) => void
  private seq = 0
  private scheduled = false
  private dispatching = false
  /** The subscriber dispatch waits for, if any. */
  private stalled: LocalSubscriber | undefined
  private closed = false
  private closing: Promise<void> | undefined
  private idleWaiters: Array<() => void> = []
  private readonly counts = { published: 0, dispatched: 0, delivered: 0, refused: 0, handlerErrors: 0 }
  private readonly run = () => {
    this.scheduled = false
    this.drain()
  }
  private clock = 0
  private clockFresh = false
  private readonly staleClock = () => {
    this.clockFresh = false
  }
  /** The route of the last topic dispatched: a game loop publishes runs of one topic. */
  private lastRoute: Route | undefined
  private lastTopic: string | undefined

  constructor(o: LocalBusOptions = {}) {
    this.dispatchMode = o.dispatch ?? 'microtask'
    this.subscriberCapacity = o.subscriberCapacity ?? 1024
    this.source = o.source ?? 'local'
    const report = o.onHandlerError
    this.onHandlerError = (error, event) => {
      this.counts.handlerErrors++
      if (report) report(error, event)
      else
        queueMicrotask(() => {
          throw error
        })
    }
    const policy = o.overrun ?? 'block'
    this.ring = new BoundedBuffer<LocalEvent>(o.capacity ?? 65_536, policy, (e) =>
      e.failed(new EventDroppedError(policy)),
    )
  }

  /**
   * Queues one event and resolves with its receipt once every subscriber has it.
   * A payload failing the topic's schema rejects at once, as on the network client.
   */
  publish<T>(topic: TopicRef<T>, data: T, options?: LocalPublishOptions): Promise<Receipt> {
    const invalid = checkPayload(topic, data)
    if (invalid) return Promise.reject(invalid)
    let ev: LocalEvent
    try {
      ev = this.make(topicName(topic), data, options)
    } catch (e) {
      return Promise.reject(e)
    }
    const receipt = ev.receipt()
    try {
      // under `block` a full buffer holds the event back: its receipt comes once dispatched, like any other's
      void this.enqueue(ev)
    } catch (e) {
      return Promise.reject(e)
    }
    return receipt
  }

  /**
   * The game loop's publish: no receipt, no promise unless the policy is `block` and
   * the buffer is full (then it resolves once the event is queued). Throws what
   * `publish` would reject with (an invalid payload, BufferFullError).
   */
  emit<T>(topic: TopicRef<T>, data: T, options?: LocalPublishOptions): undefined | Promise<void> {
    if (typeof topic !== 'string') {
      const invalid = checkPayload(topic, data)
      if (invalid) throw invalid
    }
    return this.enqueue(this.make(typeof topic === 'string' ? topic : topic.name, data, options))
  }

  /** Queues several events of one topic; all are checked before any is queued. */
  publishBatch<T>(topic: TopicRef<T>, entries: LocalBatchEntry<T>[]): Promise<Receipt[]> {
    for (let i = 0; i < entries.length; i++) {
      const invalid = checkPayload(topic, entries[i]!.data)
      // the field path names the entry, as the network client's does
      if (invalid)
        return Promise.reject(validationErrorFromZod(invalid.cause as ZodError, `events.${i}.data`))
    }
    return Promise.all(entries.map(({ data, ...o }) => this.publish(topic, data, o)))
  }

  /** Subscribes to a topic or a pattern (`game.*`, `game.>`); iterate with `for await`, or pass `onEvent`. */
  subscribe<T>(topic: TopicRef<T>, options: LocalSubscribeOptions<T> = {}): LocalSubscription<T> {
    if (this.closed) throw new ClientClosedError('the local bus is closed')
    const s = new LocalSubscription<T>(
      topicName(topic),
      options,
      this.subscriberCapacity,
      (gone) => this.unsubscribe(gone),
      this.onHandlerError,
    )
    if (options.signal?.aborted) {
      s.close()
      return s
    }
    this.subs = [...this.subs, s]
    this.forgetRoutes()
    return s
  }

  /**
   * Dispatches what is queued, in order, until the buffer is empty or an iterated
   * subscriber is full; returns how many events went out. `manual` mode calls it
   * once per tick; the other modes call it by themselves.
   */
  drain(): number {
    if (this.dispatching) return 0 // a publish from a handler: the loop below takes it next
    this.dispatching = true
    let n = 0
    try {
      for (;;) {
        const ev = this.ring.at(0)
        if (ev === undefined || !this.dispatch(ev, true)) break
        n++
      }
    } finally {
      this.dispatching = false
    }
    if (this.ring.length === 0 && this.ring.waiting === 0 && this.idleWaiters.length > 0)
      for (const w of this.idleWaiters.splice(0)) w()
    return n
  }

  /** Hands one event to its subscribers, unless one of them is full; `queued` when it is the ring's head. */
  private dispatch(ev: LocalEvent, queued: boolean): boolean {
    let route = this.lastRoute
    if (route === undefined || this.lastTopic !== ev.topic) {
      route = this.route(ev.topic)
      this.lastRoute = route
      this.lastTopic = ev.topic
    }
    const subs = route.subs
    if (route.waiting > 0) {
      const full = subs.find((s) => s.full && s.accepts(ev))
      if (full) {
        this.waitFor(full)
        return false
      }
    }
    if (queued) this.ring.take()
    let delivered = 0
    for (let i = 0; i < subs.length; i++) {
      const s = subs[i]!
      if (s.accepts(ev)) {
        s.deliver(ev)
        delivered++
      }
    }
    this.counts.dispatched++
    this.counts.delivered += delivered
    ev.dispatched()
    return true
  }

  /** Resolves once everything queued so far is dispatched (in `manual` mode, by your `drain` calls). */
  flush(): Promise<void> {
    if (this.ring.length === 0 && this.ring.waiting === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /**
   * Refuses further publishes, dispatches what is queued, then ends every
   * subscription (iterations end after the events they hold). It waits for a full
   * iterated subscriber to make room, and in `manual` mode for your `drain` calls.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true
      if (this.dispatchMode === 'manual') this.drain()
      await this.flush()
      for (const s of this.subs) s.close()
    })()
    return this.closing
  }

  stats(): LocalBusStats {
    return {
      ...this.counts,
      dropped: this.ring.dropped,
      buffered: this.ring.length,
      blocked: this.ring.waiting,
    }
  }

  private make(topic: string, data: unknown, o: LocalPublishOptions | undefined): LocalEvent {
    if (this.closed) throw new ClientClosedError('the local bus is closed')
    if (
      topic !== this.lastTopic &&
      !this.routes.has(topic) &&
      !(topic.length <= 200 && TOPIC_NAME_PATTERN.test(topic))
    )
      throw new RangeError(`invalid topic name '${topic}'`)
    return new LocalEvent(topic, data, this.source, this.seq++, this.now(), o)
  }

  private enqueue(ev: LocalEvent): undefined | Promise<void> {
    if (
      this.dispatchMode === 'sync' &&
      !this.dispatching &&
      this.ring.length === 0 &&
      this.stalled === undefined
    ) {
      // nothing ahead of it: straight to the subscribers, unless one is full
      this.counts.published++
      this.dispatching = true
      let done: boolean
      try {
        done = this.dispatch(ev, false)
      } finally {
        this.dispatching = false
      }
      if (done) {
        // what its subscribers published meanwhile waited in the ring
        if (this.ring.length > 0) this.drain()
        return undefined
      }
      this.counts.published--
    }
    let blocked: undefined | Promise<void>
    try {
      blocked = this.ring.push(ev)
    } catch (e) {
      this.counts.refused++
      throw e
    }
    this.counts.published++
    if (this.stalled === undefined) {
      if (this.dispatchMode === 'sync') this.drain()
      else if (this.dispatchMode === 'microtask' && !this.scheduled) {
        this.scheduled = true
        queueMicrotask(this.run)
      }
    }
    return blocked
  }

  /**
   * The time events are stamped with: read once per synchronous run of the caller (a
   * clock read costs more than the rest of a publish on some virtual machines).
   */
  private now(): number {
    if (!this.clockFresh) {
      this.clock = Date.now()
      this.clockFresh = true
      queueMicrotask(this.staleClock)
    }
    return this.clock
  }

  /** The subscribers of a topic, worked out once per topic until the subscriptions change. */
  private route(topic: string): Route {
    let r = this.routes.get(topic)
    if (r === undefined) {
      const subs = this.subs.filter((s) => s.matchesTopic(topic))
      r = { subs, waiting: subs.filter((s) => s.iterable).length }
      if (this.routes.size >= MAX_ROUTES) this.routes.clear()
      this.routes.set(topic, r)
    }
    return r
  }

  private waitFor(s: LocalSubscriber): void {
    this.stalled = s
    s.onRoom = () => {
      this.stalled = undefined
      if (this.dispatchMode === 'manual') return
      if (!this.scheduled) {
        this.scheduled = true
        queueMicrotask(this.run)
      }
    }
  }

  private unsubscribe(s: LocalSubscriber): void {
    this.subs = this.subs.filter((x) => x !== s)
    this.forgetRoutes()
  }

  private forgetRoutes(): void {
    this.routes.clear()
    this.lastRoute = undefined
  }
}

/** An in-process bus with the network client's publish/subscribe API. */
export function createLocalBus(options: LocalBusOptions = {}): LocalBus {
  return new LocalBus(options)
}
