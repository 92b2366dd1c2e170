import { newEventId, type Receipt } from '@questlog/protocol'
import type { ReceivedEvent } from './subscription'

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>

/** What a local publish may set on its event (a subset of the network client's PublishOptions). */
export interface LocalEventFields {
  key?: string
  partition?: number
  type?: string
  headers?: Record<string, string>
  dedupeKey?: string
  id?: string
}

/**
 * An event of the in-process bus, as every subscriber receives it: the envelope's
 * fields of the network client's events, one object per publish shared by all the
 * subscribers (the payload is passed by reference, not copied). The id and the
 * time are worked out only when read: a game loop that reads `data` alone pays for neither.
 */
export class LocalEvent<T = unknown> implements ReceivedEvent<T> {
  readonly topic: string
  readonly data: T
  readonly source: string
  /** Position in the bus: every event of the bus counts, so a topic's offsets rise but may skip. */
  readonly seq: number
  readonly #publishedAt: number
  readonly #o: LocalEventFields | undefined
  #id: string | undefined
  #settle: { resolve: (r: Receipt) => void; reject: (e: unknown) => void } | undefined

  constructor(
    topic: string,
    data: T,
    source: string,
    seq: number,
    publishedAt: number,
    o: LocalEventFields | undefined,
  ) {
    this.topic = topic
    this.data = data
    this.source = source
    this.seq = seq
    this.#publishedAt = publishedAt
    this.#o = o
    this.#id = o?.id
  }

  // read from the publish options when asked: an event is a small object to make and to keep queued
  get type(): string {
    return this.#o?.type ?? this.topic
  }

  get key(): string | null {
    return this.#o?.key ?? null
  }

  get partition(): number {
    return this.#o?.partition ?? 0
  }

  get headers(): Record<string, string> {
    return this.#o?.headers ?? NO_HEADERS
  }

  get dedupeKey(): string | null {
    return this.#o?.dedupeKey ?? null
  }

  get contentType(): string {
    return 'application/json'
  }

  get redelivery(): number {
    return 0
  }

  /** A UUIDv7 of the publish time, unless the publisher gave one. */
  get id(): string {
    this.#id ??= newEventId(this.#publishedAt)
    return this.#id
  }

  get offset(): string {
    return String(this.seq)
  }

  /** When it was published, to the ms, read once per synchronous run of the publisher (the network client's is the broker's commit time). */
  get time(): string {
    return new Date(this.#publishedAt).toISOString()
  }

  get cursor(): string {
    return `local:${this.seq}`
  }

  /** Nothing to settle: the local bus keeps no positions. */
  ack(): Promise<void> {
    return Promise.resolve()
  }

  /** The local bus delivers each event once; redelivery needs a broker. */
  nak(): void {
    throw new RangeError('nak needs a broker: the in-process bus delivers each event once')
  }

  term(): Promise<void> {
    return Promise.reject(new RangeError('term needs a named subscription on a broker'))
  }

  /** The promise `publish` returns, settled when the event is dispatched or dropped. */
  receipt(): Promise<Receipt> {
    return new Promise<Receipt>((resolve, reject) => {
      this.#settle = { resolve, reject }
    })
  }

  /** Called by the bus once every subscriber has the event. */
  dispatched(): void {
    const s = this.#settle
    if (s === undefined) return
    this.#settle = undefined
    s.resolve({ id: this.id, partition: this.partition, offset: this.offset, duplicate: false })
  }

  /** Called by the bus when the event leaves unsent (dropped, or the bus closed). */
  failed(error: unknown): void {
    const s = this.#settle
    if (s === undefined) return
    this.#settle = undefined
    s.reject(error)
  }
}
