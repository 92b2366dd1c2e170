import type { Sql } from '../storage/db'
import type { StoredEvent } from '../storage/event-store'

export const EVENTS_CHANNEL = 'questlog_events'
export const TOPICS_CHANNEL = 'questlog_topics'

export interface LogListener {
  /** Events this broker just committed, in offset order, starting at `first`. */
  onCommit(partition: number, first: number, events: readonly StoredEvent[]): void
  /** Another broker committed up to (excluding) `next`: read the log to catch up. */
  onAdvance(partition: number, next: number): void
  /** The topic was deleted. */
  onClose?(): void
}

/**
 * Wakes readers of a topic the moment events commit: at once, in memory, for
 * events this broker wrote, and through LISTEN/NOTIFY for other brokers' events.
 * A lost notification costs latency, never data: readers always read the log.
 */
export class Fanout {
  private readonly listeners = new Map<number, Set<LogListener>>()
  private unlisten: Array<() => Promise<void>> = []

  constructor(
    private readonly sql: Sql,
    readonly brokerId: string,
    private readonly onTopicChanged: (name: string) => void,
  ) {}

  async start(): Promise<void> {
    const events = await this.sql.listen(EVENTS_CHANNEL, (payload) => this.onNotify(payload))
    const topics = await this.sql.listen(TOPICS_CHANNEL, (payload) => {
      const [from, name] = splitOnce(payload)
      if (from !== this.brokerId && name) this.onTopicChanged(name)
    })
    this.unlisten = [events.unlisten, topics.unlisten]
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.unlisten.map((u) => u()))
    this.unlisten = []
  }

  /** The NOTIFY payload of a commit to a partition, up to the next offset the database appends. */
  eventsPrefix(topicId: number, partition: number): string {
    return `${this.brokerId}|${topicId}|${partition}|`
  }

  async topicChanged(name: string): Promise<void> {
    await this.sql`SELECT pg_notify(${TOPICS_CHANNEL}, ${`${this.brokerId}|${name}`})`
  }

  subscribe(topicId: number, listener: LogListener): () => void {
    let set = this.listeners.get(topicId)
    if (!set) {
      set = new Set()
      this.listeners.set(topicId, set)
    }
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0) this.listeners.delete(topicId)
    }
  }

  listenerCount(): number {
    let n = 0
    for (const set of this.listeners.values()) n += set.size
    return n
  }

  committed(topicId: number, partition: number, first: number, build: () => readonly StoredEvent[]): void {
    const set = this.listeners.get(topicId)
    if (!set) return
    const events = build()
    for (const l of set) l.onCommit(partition, first, events)
  }

  closeTopic(topicId: number): void {
    const set = this.listeners.get(topicId)
    if (!set) return
    for (const l of set) l.onClose?.()
    this.listeners.delete(topicId)
  }

  private onNotify(payload: string): void {
    const [from, topic, partition, next] = payload.split('|')
    if (from === this.brokerId) return
    const set = this.listeners.get(Number(topic))
    if (!set) return
    for (const l of set) l.onAdvance(Number(partition), Number(next))
  }
}

function splitOnce(s: string): [string, string] {
  const i = s.indexOf('|')
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)]
}
