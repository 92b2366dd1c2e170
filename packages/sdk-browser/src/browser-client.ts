import type { PublishEvent } from '@questlog/protocol'
import {
  type BatchOrder,
  type BatchResult,
  ClientClosedError,
  type ClientOptions,
  type Deadline,
  type EncodedBatch,
  type EventSubscription,
  QuestlogClient,
  type QueuedEvent,
  type RequestHandler,
  type RequestOptions,
  type RequestRef,
  type Responder,
  type RespondOptions,
  type SubscribeOptions,
  type TopicRef,
  topicName,
  type WebSocketConstructor,
  webSocketTransport,
} from '@questlog/sdk-core'
import { FallbackSubscription } from './fallback-subscription'
import { httpPublish } from './http-publish'
import { SseSubscription } from './sse-subscription'

export interface BrowserClientOptions extends Omit<ClientOptions, 'transport'> {
  /**
   * `websocket`: one WebSocket for everything. `sse`: publishes over HTTP, subscriptions over
   * Server-Sent Events. `auto` (default): WebSocket where the browser has it, else `sse`.
   */
  transport?: 'auto' | 'websocket' | 'sse'
  /** Send what is queued with `fetch(…, { keepalive: true })` when the page is hidden or left (default true). */
  flushOnHide?: boolean
  /** With `auto`: WebSocket connects that fail, before any succeeded, until the client moves to SSE + HTTP (default 3). */
  fallbackAfter?: number
}

// keepalive requests may carry 64 KiB in total; stay under it with room for the envelope
const KEEPALIVE_BUDGET = 60_000

/** The Questlog client for browsers. */
export class BrowserClient extends QuestlogClient {
  private currentMode: 'websocket' | 'sse'
  private readonly movable = new Set<FallbackSubscription<unknown>>()
  private fallbackWatch = false
  /** The last credential resolved, for the page-hide flush, which cannot wait for a fresh one. */
  private lastToken: string | undefined
  private readonly onHide: (() => void) | undefined

  constructor(o: BrowserClientOptions) {
    const wanted = o.transport ?? 'auto'
    const hasWebSocket = typeof globalThis.WebSocket === 'function'
    const mode = wanted === 'sse' || (wanted === 'auto' && !hasWebSocket) ? 'sse' : 'websocket'
    super({
      ...o,
      transport:
        mode === 'websocket'
          ? webSocketTransport(globalThis.WebSocket as unknown as WebSocketConstructor)
          : null,
    })
    this.currentMode = mode
    this.lastToken = typeof o.token === 'string' ? o.token : undefined
    if (wanted === 'auto' && mode === 'websocket') void this.fallBackIfNeeded(o.fallbackAfter ?? 3)
    if ((o.flushOnHide ?? true) && typeof addEventListener === 'function') {
      const onHide = () => this.flushForUnload()
      const onVisibility = () => {
        if (document.visibilityState === 'hidden') onHide()
      }
      addEventListener('pagehide', onHide)
      document.addEventListener('visibilitychange', onVisibility)
      this.onHide = () => {
        removeEventListener('pagehide', onHide)
        document.removeEventListener('visibilitychange', onVisibility)
      }
    }
  }

  /** The transport in use now: `auto` starts on `websocket` and may move to `sse`. */
  get mode(): 'websocket' | 'sse' {
    return this.currentMode
  }

  override subscribe<T>(topic: TopicRef<T>, options: SubscribeOptions = {}): EventSubscription<T> {
    if (this.closing) throw new ClientClosedError()
    const overSse = (cursor: string | undefined) =>
      new SseSubscription<T>(
        this.brokers[0]!,
        topicName(topic),
        cursor === undefined ? options : { ...options, cursor },
        () => this.credential(),
      )
    if (this.currentMode === 'sse') return overSse(options.cursor)
    if (!this.fallbackWatch) return super.subscribe(topic, options)
    const sub = new FallbackSubscription<T>(super.subscribe(topic, options), overSse)
    this.movable.add(sub as FallbackSubscription<unknown>)
    return sub
  }

  /** Request/reply needs the WebSocket: over SSE + HTTP it rejects with a clear error. */
  override request<Req, Res = unknown>(
    subject: RequestRef<Req, Res>,
    data: Req,
    options: RequestOptions = {},
  ): Promise<Res> {
    if (this.currentMode === 'sse') return Promise.reject(noRpcOverSse())
    return super.request(subject, data, options)
  }

  override respond<Req, Res>(
    subject: RequestRef<Req, Res>,
    handler: RequestHandler<Req, Res>,
    options: RespondOptions = {},
  ): Promise<Responder> {
    if (this.currentMode === 'sse') return Promise.reject(noRpcOverSse())
    return super.respond(subject, handler, options)
  }

  /** Moves to SSE + HTTP when WebSocket connects keep failing before any succeeded (a proxy that blocks them). */
  private async fallBackIfNeeded(after: number): Promise<void> {
    this.fallbackWatch = true
    let failures = 0
    for await (const s of this.status()) {
      if (s.state === 'open' || s.state === 'closed') break
      if (s.state === 'reconnecting' && s.reason === 'connect_failed' && ++failures >= after) {
        this.currentMode = 'sse'
        this.session.abandon()
        for (const sub of this.movable) sub.switchToSse()
        break
      }
    }
    this.fallbackWatch = false
    this.movable.clear()
  }

  override close(): Promise<void> {
    this.onHide?.()
    return super.close()
  }

  /**
   * Sends everything queued with keepalive requests, which the browser completes
   * even after the page is gone. Dedupe keys make any double send harmless.
   */
  flushForUnload(): void {
    const byTopic = new Map<string, QueuedEvent[]>()
    for (const q of this.producer.takeAll()) {
      const list = byTopic.get(q.topic)
      if (list) list.push(q)
      else byTopic.set(q.topic, [q])
    }
    let budget = KEEPALIVE_BUDGET
    for (const [topic, queued] of byTopic) {
      let chunk: QueuedEvent[] = []
      let bytes = 0
      const send = () => {
        if (chunk.length === 0) return
        const batch = chunk
        chunk = []
        bytes = 0
        const keepalive = budget > 0
        budget -= KEEPALIVE_BUDGET / 4
        void httpPublish(
          topic,
          batch.map((q) => q.event),
          { broker: this.httpBroker(), token: this.lastToken, keepalive },
        ).then(
          (r) => {
            for (let i = 0; i < batch.length; i++) batch[i]!.resolve(r.receipts[i]!)
          },
          (e: Error) => {
            for (const q of batch) q.reject(e)
          },
        )
      }
      for (const q of queued) {
        const size = JSON.stringify(q.event).length + 1
        if (bytes + size > KEEPALIVE_BUDGET / 4 && chunk.length > 0) send()
        chunk.push(q)
        bytes += size
      }
      send()
    }
  }

  /** Over HTTP each batch is its own request, and requests may overtake each other: one at a time. */
  protected override maxInFlightBatches(): number {
    return this.currentMode === 'websocket' ? super.maxInFlightBatches() : 1
  }

  /** Columns go over the WebSocket only; over HTTP a batch is `{events:[…]}`. */
  protected override takesColumns(): boolean {
    return this.currentMode === 'websocket' && super.takesColumns()
  }

  protected override sendBatch(
    topic: string,
    events: PublishEvent[],
    deadline: Deadline,
    encoded: EncodedBatch | undefined,
    order: BatchOrder,
  ): Promise<BatchResult> {
    // (a batch behind others still in flight over the WebSocket it left is refused there, unsent)
    if (this.currentMode === 'websocket' || order.behind)
      return super.sendBatch(topic, events, deadline, encoded, order)
    return this.credential().then((token) =>
      httpPublish(topic, events, { broker: this.brokers[0]!, token, signal: deadline.signal() }),
    )
  }

  private async credential(): Promise<string | undefined> {
    if (typeof this.token === 'function') this.lastToken = await this.token()
    return this.lastToken
  }
}

function noRpcOverSse(): ClientClosedError {
  return new ClientClosedError('request/reply needs a WebSocket; this client fell back to SSE + HTTP')
}
