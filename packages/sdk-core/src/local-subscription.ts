import { compileSubjectPattern, subjectPatternError } from '@questlog/protocol'
import { BoundedBuffer } from './buffer'
import type { LocalEvent } from './local-event'
import type { EventSubscription } from './subscription'

export interface LocalSubscribeOptions<T = unknown> {
  /** Only events whose type matches this subject pattern (`game.*`), as on a broker. */
  type?: string
  /** Only events with this key. */
  key?: string
  /** Only events published with this partition. */
  partition?: number
  /**
   * Called with each event inside dispatch, instead of iterating the subscription; an
   * error it throws goes to the bus's `onHandlerError` and does not stop the others.
   */
  onEvent?: (event: LocalEvent<T>) => void
  /** Events an iterated subscription holds unread before dispatch waits for it (default the bus's `subscriberCapacity`). */
  capacity?: number
  /** Ends the subscription. */
  signal?: AbortSignal
}

/** What the bus sees of a subscription. */
export interface LocalSubscriber {
  readonly matchesTopic: (topic: string) => boolean
  /** Iterated (holds events until read), not called back. */
  readonly iterable: boolean
  /** Whether dispatch must wait before handing this subscriber one more event. */
  readonly full: boolean
  /** Whether the event passes the type, key and partition filters. */
  accepts(event: LocalEvent): boolean
  deliver(event: LocalEvent): void
  /** Called once when the subscriber, full before, has room again (or ended). */
  onRoom: (() => void) | undefined
  close(): void
}

/**
 * A subscription to a topic or a topic pattern (`game.*`, `game.>`) of the
 * in-process bus: an async iterable, or a callback with `onEvent` (not both).
 */
export class LocalSubscription<T = unknown> implements EventSubscription<T>, LocalSubscriber {
  readonly matchesTopic: (topic: string) => boolean
  readonly positions: Readonly<Record<string, string>> = {}
  onRoom: (() => void) | undefined
  private readonly inbox: BoundedBuffer<LocalEvent<T>> | undefined
  private readonly handler: ((event: LocalEvent<T>) => void) | undefined
  private readonly matchesType: ((type: string) => boolean) | undefined
  private readonly filtered: boolean
  private wake: (() => void) | undefined
  private readonly onAbort = () => this.close()
  private ended = false
  private iterating = false
  /** Position of the last event received (a number: no reference to the event kept). */
  private lastSeq = -1

  constructor(
    readonly topic: string,
    private readonly o: LocalSubscribeOptions<T>,
    defaultCapacity: number,
    private readonly remove: (s: LocalSubscription<T>) => void,
    private readonly onHandlerError: (error: unknown, event: LocalEvent) => void,
  ) {
    const problem = subjectPatternError(topic)
    if (problem) throw new RangeError(`invalid topic pattern '${topic}': ${problem}`)
    this.matchesTopic = compileSubjectPattern(topic)
    if (o.type !== undefined) this.matchesType = compileSubjectPattern(o.type)
    this.filtered = o.type !== undefined || o.key !== undefined || o.partition !== undefined
    this.handler = o.onEvent
    if (this.handler === undefined) this.inbox = new BoundedBuffer(o.capacity ?? defaultCapacity, 'error')
    o.signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  /** The cursor of the last event received (local positions cannot resume a broker subscription). */
  get cursor(): string | undefined {
    return this.lastSeq < 0 ? undefined : `local:${this.lastSeq}`
  }

  get iterable(): boolean {
    return this.inbox !== undefined
  }

  get full(): boolean {
    return this.inbox !== undefined && this.inbox.length >= this.inbox.capacity
  }

  /** Events received and not yet read. */
  get pending(): number {
    return this.inbox?.length ?? 0
  }

  accepts(e: LocalEvent): boolean {
    if (!this.filtered) return true
    if (this.matchesType !== undefined && !this.matchesType(e.type)) return false
    if (this.o.key !== undefined && e.key !== this.o.key) return false
    return this.o.partition === undefined || e.partition === this.o.partition
  }

  deliver(e: LocalEvent): void {
    if (this.ended) return
    const ev = e as LocalEvent<T>
    this.lastSeq = ev.seq
    if (this.handler !== undefined) {
      try {
        this.handler(ev)
      } catch (error) {
        this.onHandlerError(error, ev)
      }
      return
    }
    this.inbox!.push(ev)
    const w = this.wake
    if (w !== undefined) {
      this.wake = undefined
      w()
    }
  }

  /** Stops the subscription; iteration ends after the events already received. */
  close(): void {
    if (this.ended) return
    this.ended = true
    this.o.signal?.removeEventListener('abort', this.onAbort)
    this.remove(this)
    this.roomMade()
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  [Symbol.asyncIterator](): AsyncIterator<LocalEvent<T>> {
    if (this.handler !== undefined)
      throw new Error('this subscription has an onEvent handler: it cannot also be iterated')
    if (this.iterating) throw new Error('a subscription can be iterated only once at a time')
    this.iterating = true
    const inbox = this.inbox!
    return {
      next: async () => {
        for (;;) {
          const wasFull = this.full
          const ev = inbox.take()
          if (ev !== undefined) {
            if (wasFull) this.roomMade()
            return { value: ev, done: false }
          }
          if (this.ended) {
            this.iterating = false
            return { value: undefined, done: true }
          }
          await new Promise<void>((resolve) => {
            this.wake = resolve
          })
        }
      },
      return: async () => {
        this.iterating = false
        this.close()
        return { value: undefined, done: true }
      },
    }
  }

  private roomMade(): void {
    const r = this.onRoom
    this.onRoom = undefined
    r?.()
  }
}
