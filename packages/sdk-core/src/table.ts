import type { Envelope, QuestlogError } from '@questlog/protocol'
import type { EventSubscription, ReceivedEvent, SubscribeOptions } from './subscription'

export interface TableOptions {
  /** Keys read per snapshot page (default 500). */
  pageSize?: number
  /** Closes the table. */
  signal?: AbortSignal
}

/** One change of a table: a key set to a new value, or removed by a tombstone (`data: null`). */
export type TableChange<T> =
  | { type: 'set'; key: string; value: T; previous: T | undefined; event: ReceivedEvent<T> }
  | { type: 'delete'; key: string; previous: T | undefined; event: ReceivedEvent<T | null> }

type Listeners<T> = {
  change: (change: TableChange<T>) => void
  error: (error: Error) => void
}

/** What a table needs from its client: one HTTP read and a subscription. */
export interface TableSource<T> {
  topic: string
  getJson<R>(path: string): Promise<R>
  subscribe(options: SubscribeOptions): EventSubscription<T | null>
}

interface SnapshotAnswer<T> {
  events: Array<Envelope & { data: T }>
  cursor: string
  page: string | null
}

/**
 * A compacted topic as a live, read-only `Map` of key → latest value: the broker's snapshot
 * first, then every later event from where the snapshot ended (the subscription resumes across
 * reconnects without gaps), a tombstone (`data: null`) removing its key.
 *
 * ```ts
 * const profiles = bus.table(playerProfiles)
 * await profiles.ready
 * profiles.on('change', (c) => console.log(c.type, c.key))
 * profiles.get('player-1')
 * ```
 */
export class LiveTable<T> implements ReadonlyMap<string, T> {
  /** Resolves once the snapshot is in; rejects if it cannot be read. */
  readonly ready: Promise<void>
  private readonly map = new Map<string, T>()
  private readonly listeners: { [K in keyof Listeners<T>]: Set<Listeners<T>[K]> } = {
    change: new Set(),
    error: new Set(),
  }
  private subscription: EventSubscription<T | null> | undefined
  private closed = false
  private cursorAt: string | undefined

  constructor(
    private readonly source: TableSource<T>,
    private readonly options: TableOptions = {},
  ) {
    options.signal?.addEventListener('abort', () => this.close(), { once: true })
    this.ready = this.load()
    // the failure is the caller's through `ready` and the error listeners, never an unhandled rejection
    this.ready.catch(() => {})
  }

  get size(): number {
    return this.map.size
  }

  get(key: string): T | undefined {
    return this.map.get(key)
  }

  has(key: string): boolean {
    return this.map.has(key)
  }

  entries(): MapIterator<[string, T]> {
    return this.map.entries()
  }

  keys(): MapIterator<string> {
    return this.map.keys()
  }

  values(): MapIterator<T> {
    return this.map.values()
  }

  [Symbol.iterator](): MapIterator<[string, T]> {
    return this.map.entries()
  }

  forEach(fn: (value: T, key: string, map: ReadonlyMap<string, T>) => void): void {
    for (const [k, v] of this.map) fn(v, k, this)
  }

  /** The position after the last change applied (opaque), once the snapshot is in. */
  get cursor(): string | undefined {
    return this.subscription?.cursor ?? this.cursorAt
  }

  /** Listens to changes after the snapshot, or to the error that ended the table; returns the unsubscribe. */
  on<K extends keyof Listeners<T>>(event: K, listener: Listeners<T>[K]): () => void {
    this.listeners[event].add(listener)
    return () => this.listeners[event].delete(listener)
  }

  /** Stops following the topic; the values stay readable as they are. */
  close(): void {
    this.closed = true
    this.subscription?.close()
  }

  private async load(): Promise<void> {
    const topic = encodeURIComponent(this.source.topic)
    const limit = this.options.pageSize ?? 500
    let page: string | null = null
    let cursor: string | undefined
    try {
      do {
        const query: string = `limit=${limit}${page === null ? '' : `&page=${encodeURIComponent(page)}`}`
        const answer: SnapshotAnswer<T> = await this.source.getJson(`/v1/topics/${topic}/snapshot?${query}`)
        cursor ??= answer.cursor
        for (const e of answer.events) if (e.key !== null) this.map.set(e.key, e.data)
        page = answer.page
      } while (page !== null && !this.closed)
    } catch (e) {
      this.fail(e as Error)
      throw e
    }
    this.cursorAt = cursor
    if (this.closed) return
    this.subscription = this.source.subscribe({ cursor })
    void this.follow(this.subscription)
  }

  private async follow(sub: EventSubscription<T | null>): Promise<void> {
    try {
      for await (const event of sub) {
        const key = event.key
        if (key === null) continue
        const previous = this.map.get(key)
        if (event.data === null || event.data === undefined) {
          if (!this.map.delete(key)) continue
          this.emit({ type: 'delete', key, previous, event })
        } else {
          this.map.set(key, event.data)
          this.emit({ type: 'set', key, value: event.data, previous, event: event as ReceivedEvent<T> })
        }
      }
    } catch (e) {
      if (!this.closed) this.fail(e as QuestlogError)
    }
  }

  private emit(change: TableChange<T>): void {
    for (const l of this.listeners.change) l(change)
  }

  private fail(error: Error): void {
    for (const l of this.listeners.error) l(error)
  }
}
