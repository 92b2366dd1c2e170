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
  readonly type: string
  readonly key: string | null
  readonly partition: number
  readonly headers: Record<string, string>
  readonly dedupeKey: string | null
  readonly data: T
  readonly source: string
  readonly contentType = 'application/json'
  readonly redelivery = 0
  /** Position in the bus: every event of the bus counts, so a topic's offsets rise but may skip. */
  readonly seq: number
  readonly #publishedAt: number
  #id: string | undefined
  #settle: { resolve: (r: Receipt) => void; reject: (e: unknown) => void } | undefined

  constructor(topic: string, data: T, source: string, seq: number, o: LocalEventFields | undefined) {
    this.topic = topic
    this.data = data
    this.source = source
    this.seq = seq
    this.#publishedAt = Date.now()
    if (o === undefined) {
      this.type = topic
      this.key = null
      this.partition = 0
      this.headers = NO_HEADERS
      this.dedupeKey = null
    } else {
      this.type = o.type ?? topic
      this.key = o.key ?? null
      this.partition = o.partition ?? 0
      this.headers = o.headers ?? NO_HEADERS
      this.dedupeKey = o.dedupeKey ?? null
      this.#id = o.id
    }
  }

  /** A UUIDv7 of the publish time, unless the publisher gave one. */
  get id(): string {
    this.#id ??= newEventId(this.#publishedAt)
    return this.#id
  }

  get offset(): string {
    return String(this.seq)
  }

  /** When it was published (the network client's is the broker's commit time). */
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
