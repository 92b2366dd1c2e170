import { AuthError, type Envelope, UnavailableError, ValidationError } from '@questlog/protocol'
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
  /** The credential the stream was opened with. */
  private token: string | undefined
  private readonly url: string
  /** The stream's query: its start, filters and credential. */
  private readonly query = new URLSearchParams()
  /** A stream does not report where it starts. */
  readonly positions: Readonly<Record<string, string>> = {}

  constructor(
    broker: string,
    private readonly topic: string,
    o: SubscribeOptions,
    private readonly credential: () => Promise<string | undefined> = async () => undefined,
  ) {
    if (o.group !== undefined) {
      throw new ValidationError([{ path: 'group', message: 'consumer groups need the WebSocket transport' }])
    }
    const q = this.query
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
    this.url = `${broker.replace(/\/$/, '')}/v1/topics/${encodeURIComponent(topic)}/stream`
    void credential().then(
      (token) => this.open(token),
      (e: Error) => {
        this.error = e
        this.close()
      },
    )
    o.signal?.addEventListener('abort', () => this.close(), { once: true })
  }

  private open(token: string | undefined): void {
    if (this.ended) return
    this.token = token
    // EventSource cannot send headers: the broker takes the credential from the query instead
    if (token !== undefined) this.query.set('access_token', token)
    const topic = this.topic
    const source = new EventSource(`${this.url}?${this.query}`)
    this.source = source
    source.onmessage = (m: MessageEvent<string>) => {
      this.last = m.lastEventId
      this.queue.push({ event: JSON.parse(m.data) as Envelope, cursor: m.lastEventId })
      this.poke()
    }
    source.onerror = (ev: Event) => {
      // the broker's own `event: error` (slow_consumer, unauthorized) comes here too, with data
      const said =
        typeof (ev as MessageEvent).data === 'string' ? parseError((ev as MessageEvent).data) : undefined
      if (said?.code === 'unauthorized') {
        source.close()
        void this.renew(said.message)
        return
      }
      // CONNECTING: the browser retries by itself; CLOSED: the broker refused the stream
      if (source.readyState === EventSource.CLOSED) {
        this.error = new UnavailableError(`the event stream of '${topic}' was refused`)
        this.close()
      }
    }
  }

  /**
   * The stream's credential ended (a token expired, a key was revoked): a token
   * function may give a fresh one, and the stream resumes after the last event;
   * the same credential again would only be refused, so that ends the stream.
   */
  private async renew(message: string): Promise<void> {
    let token: string | undefined
    try {
      token = await this.credential()
    } catch (e) {
      this.error = e as Error
      this.close()
      return
    }
    if (token === undefined || token === this.token) {
      this.error = new AuthError(message)
      this.close()
      return
    }
    if (this.last !== undefined) this.query.set('lastEventId', this.last)
    this.open(token)
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

function parseError(data: string): { code?: string; message: string } | undefined {
  try {
    const body = JSON.parse(data) as { code?: unknown; message?: unknown }
    return {
      code: typeof body.code === 'string' ? body.code : undefined,
      message: String(body.message ?? ''),
    }
  } catch {
    return undefined
  }
}
