import { type Envelope, UnavailableError, ValidationError } from '@questlog/protocol'
import type { EventSubscription, ReceivedEvent, SubscribeOptions } from '@questlog/sdk-core'

/**
 * A subscription over Server-Sent Events (`GET /v1/topics/{topic}/stream`), for
 * when WebSocket is not available. The browser's EventSource reconnects by
 * itself and sends the last `id:` (a broker cursor) back, so it resumes without gaps.
 */
export class SseSubscription<T> implements EventSubscription<T> {
  private source: EventSource | undefined
  private readonly queue: Array<{ event: Envelope; cursor: string }> = []
  private wake: (() => void) | undefined
  private ended = false
  private error: Error | undefined
  private last: string | undefined
  /** A stream does not report where it starts. */
  readonly positions: Readonly<Record<string, string>> = {}

  constructor(
    broker: string,
    topic: string,
    o: SubscribeOptions,
    credential: () => Promise<string | undefined> = async () => undefined,
  ) {
    if (o.group !== undefined) {
      throw new ValidationError([{ path: 'group', message: 'consumer groups need the WebSocket transport' }])
    }
    const q = new URLSearchParams()
    const from = o.from
    if (typeof from === 'string') q.set('from', from)
    else if (from && 'offset' in from) q.set('from', from.offset)
    else if (from)
      throw new ValidationError([{ path: 'from', message: 'a time start needs the WebSocket transport' }])
    if (o.partition !== undefined) q.set('partition', String(o.partition))
    if (o.key !== undefined) q.set('key', o.key)
    if (o.type !== undefined) q.set('type', o.type)
    if (o.cursor !== undefined) q.set('lastEventId', o.cursor)
    this.last = o.cursor
    const url = `${broker.replace(/\/$/, '')}/v1/topics/${encodeURIComponent(topic)}/stream`
    void credential().then(
      (token) => {
        // EventSource cannot send headers: the broker takes the credential from the query instead
        if (token !== undefined) q.set('access_token', token)
        if (!this.ended) this.open(`${url}?${q}`, topic)
      },
      (e: Error) => {
        this.error = e
        this.close()
      },
    )
    o.signal?.addEventListener('abort', () => this.close(), { once: true })
  }

  private open(url: string, topic: string): void {
    const source = new EventSource(url)
    this.source = source
    source.onmessage = (m: MessageEvent<string>) => {
      this.last = m.lastEventId
      this.queue.push({ event: JSON.parse(m.data) as Envelope, cursor: m.lastEventId })
      this.poke()
    }
    source.onerror = () => {
      // CONNECTING: the browser retries by itself; CLOSED: the broker refused the stream
      if (source.readyState === EventSource.CLOSED) {
        this.error = new UnavailableError(`the event stream of '${topic}' was refused`)
        this.close()
      }
    }
  }

  get cursor(): string | undefined {
    return this.last
  }

  close(): void {
    if (this.ended) return
    this.ended = true
    this.source?.close()
    this.poke()
  }

  [Symbol.asyncIterator](): AsyncIterator<ReceivedEvent<T>> {
    return {
      next: async () => {
        for (;;) {
          const d = this.queue.shift()
          if (d) {
            const ev: ReceivedEvent<T> = {
              ...(d.event as Omit<Envelope, 'data'> & { data: T }),
              cursor: d.cursor,
              redelivery: 0,
              // a stream has no acks: the cursor is the position
              ack: () => Promise.resolve(),
              nak: () => {},
              term: () =>
                Promise.reject(new UnavailableError('term needs a named subscription over the WebSocket')),
            }
            return { value: ev, done: false }
          }
          if (this.ended) {
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
        this.close()
        return { value: undefined, done: true }
      },
    }
  }

  private poke(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }
}
