import {
  type BrokerInfo,
  type ClientFrame,
  type DeliveredEvent,
  errorFromBody,
  type IncomingRequestFrame,
  isQuestlogError,
  PROTOCOL_VERSION,
  type PresenceDeltaFrame,
  type PresenceSnapshotFrame,
  type QuestlogError,
  type ServerFrame,
  type SubscribedFrame,
  type WelcomeFrame,
} from '@questlog/protocol'
import { AbortedError, ClientClosedError, ConnectionLostError } from './errors'
import { type BackoffOptions, backoffDelay } from './retry'
import { DEFAULT_ROUTER, type Route, Router, type RouterOptions } from './router'
import { sleep } from './sleep'
import { StatusMachine } from './status'
import type { Transport, TransportConnection } from './transport'

/** What a subscription needs from the connection it rides on. */
export interface SessionSubscriber {
  /** A (re)opened connection: send the subscribe frame again. */
  onOpen(session: Session): void
  /** The connection dropped. */
  onLost(): void
  onSubscribed(frame: SubscribedFrame): void
  onEvents(events: DeliveredEvent[]): void
  onError(error: QuestlogError): void
}

/** What a responder needs from the connection: re-registration on each open, and its requests. */
export interface SessionResponder {
  /** A (re)opened connection: send the respond frame again. */
  onOpen(session: Session): void
  onRequest(frame: IncomingRequestFrame): void
}

/** What a presence channel needs from the connection: entering and watching again on each open, and its frames. */
export interface SessionPresence {
  /** A (re)opened connection: enter and watch again. */
  onOpen(session: Session): void
  onSnapshot(frame: PresenceSnapshotFrame): void
  onDelta(frame: PresenceDeltaFrame): void
  onError(error: QuestlogError): void
}

/** A credential, or a function returning a fresh one. */
export type TokenSource = string | (() => string | Promise<string>)

export interface SessionOptions {
  /** WebSocket URLs the client was given; the router picks among them and the brokers the cluster names. */
  urls: string[]
  /** Health-aware routing: thresholds, stickiness, cooldown (see RouterOptions). */
  routing?: Partial<RouterOptions> | undefined
  /** Whether brokers the live set names beyond `urls` are candidates too (default true). */
  discoverBrokers?: boolean | undefined
  /** Turns a broker's advertised base URL into the URL the transport connects to. */
  toUrl?: ((advertised: string) => string) | undefined
  transport: Transport
  /** A credential, or a function that fetches a fresh one (short-lived tokens) before each connect. */
  token?: TokenSource | undefined
  clientName?: string | undefined
  backoff: BackoffOptions
  /** Connect + handshake must finish within this. */
  connectTimeoutMs: number
  /** A ping goes out after this much silence; twice as long without any frame drops the connection. */
  pingIntervalMs: number
  /** The broker changed the publish window. */
  onPublishCredits?: (credits: number) => void
}

interface Pending {
  resolve: (frame: ServerFrame) => void
  reject: (error: Error) => void
}

// errors no reconnect can fix
const FATAL_CODES = new Set(['unauthorized', 'forbidden', 'bad_request'])

/** One logical connection to the brokers: handshake, reconnects with backoff, request/answer matching. */
export class Session {
  readonly status = new StatusMachine()
  private conn: TransportConnection | undefined
  /** Counts the connections opened: names the one open now. */
  private opened = 0
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly subscribers = new Map<string, SessionSubscriber>()
  private readonly responders = new Map<string, SessionResponder>()
  private readonly presences = new Map<string, SessionPresence>()
  private readonly stop = new AbortController()
  private closing = false
  /** Why the session closed, for subscribers that come after. */
  private endedWith: QuestlogError | undefined
  private abandoned = false
  /** Picks the broker to be on, by the brokers' health. */
  readonly router: Router
  /** A move the router asked for: the connection open now is closed and this one opened instead. */
  private moving: Route | undefined
  welcome: WelcomeFrame | undefined
  /** The cluster's live brokers as the broker last told (welcome, then `brokers` frames); empty from older brokers. */
  brokers: BrokerInfo[] = []

  constructor(private readonly o: SessionOptions) {
    this.router = new Router(
      o.urls,
      { ...DEFAULT_ROUTER, ...o.routing },
      o.toUrl ?? ((u) => u),
      o.discoverBrokers ?? true,
    )
  }

  start(): void {
    void this.run()
  }

  get isOpen(): boolean {
    return this.conn !== undefined && this.status.get().state === 'open'
  }

  /** Bytes waiting in the socket's send buffer. */
  get bufferedAmount(): number {
    return this.conn?.bufferedAmount ?? 0
  }

  /** The connection open now (a number that changes with each reconnect), if one is. */
  get connection(): number | undefined {
    return this.isOpen ? this.opened : undefined
  }

  /**
   * Sends a request and resolves with its answer (`receipts` or `ok`); an `error` answer rejects.
   * `signal` ends the wait for a connection, and the wait for the answer too: a request whose
   * answer never comes (a broker that answers pings but not it) rejects when the signal aborts,
   * and its answer, should it come later, is ignored.
   */
  request(
    make: (id: number) => ClientFrame | string | Uint8Array,
    signal?: AbortSignal,
  ): Promise<ServerFrame> {
    // sent at once when open, so frames keep the order of the calls
    if (this.isOpen) return this.sendRequest(make, signal)
    return this.whenOpen(signal).then(() =>
      this.conn
        ? this.sendRequest(make, signal)
        : Promise.reject(new ConnectionLostError('no connection is open')),
    )
  }

  /** `make` gives the frame, its JSON text when the caller has it ready, or a binary frame. */
  private sendRequest(
    make: (id: number) => ClientFrame | string | Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<ServerFrame> {
    if (signal?.aborted) return Promise.reject(new AbortedError(signal.reason))
    const conn = this.conn!
    const id = this.nextId++
    return new Promise<ServerFrame>((resolve, reject) => {
      if (signal === undefined) this.pending.set(id, { resolve, reject })
      else {
        const onAbort = () => {
          this.pending.delete(id)
          reject(new AbortedError(signal.reason))
        }
        signal.addEventListener('abort', onAbort, { once: true })
        const settled = () => signal.removeEventListener('abort', onAbort)
        this.pending.set(id, {
          resolve: (f) => {
            settled()
            resolve(f)
          },
          reject: (e) => {
            settled()
            reject(e)
          },
        })
      }
      const frame = make(id)
      conn.send(typeof frame === 'string' || frame instanceof Uint8Array ? frame : JSON.stringify(frame))
    })
  }

  /** Sends a frame that has no answer; dropped when no connection is open (the broker redelivers). */
  send(frame: ClientFrame): boolean {
    if (!this.isOpen) return false
    this.conn!.send(JSON.stringify(frame))
    return true
  }

  addSubscriber(sid: string, s: SessionSubscriber): void {
    if (this.endedWith) {
      // a session ended for good (its key was refused) opens no more: the subscription ends as it would have
      const error = this.endedWith
      queueMicrotask(() => s.onError(error))
      return
    }
    this.subscribers.set(sid, s)
    if (this.isOpen) s.onOpen(this)
  }

  removeSubscriber(sid: string): void {
    if (this.subscribers.delete(sid)) this.send({ op: 'unsubscribe', sid })
  }

  addResponder(rid: string, r: SessionResponder): void {
    this.responders.set(rid, r)
    if (this.isOpen) r.onOpen(this)
  }

  removeResponder(rid: string): void {
    if (this.responders.delete(rid)) this.send({ op: 'unrespond', rid })
  }

  addPresence(sid: string, p: SessionPresence): void {
    this.presences.set(sid, p)
    if (this.isOpen) p.onOpen(this)
  }

  removePresence(sid: string): void {
    this.presences.delete(sid)
  }

  async whenOpen(signal?: AbortSignal): Promise<void> {
    if (this.isOpen) return
    if (!signal) return this.status.whenOpen()
    if (signal.aborted) throw new AbortedError(signal.reason)
    let onAbort: (() => void) | undefined
    try {
      await Promise.race([
        this.status.whenOpen(),
        new Promise<never>((_, reject) => {
          onAbort = () => reject(new AbortedError(signal.reason))
          signal.addEventListener('abort', onAbort, { once: true })
        }),
      ])
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Stops connecting, for good, without ending the client: another transport has
   * taken over. Requests waiting for a connection fail with a retryable error.
   */
  abandon(): void {
    if (this.closing || this.abandoned) return
    this.abandoned = true
    this.stop.abort()
    const conn = this.conn
    this.conn = undefined
    conn?.close(1000, 'switching transport')
    this.failPending(new ConnectionLostError('the client switched to another transport'))
    this.status.transition({ state: 'open', reason: 'fallback', url: this.o.urls[0]! })
  }

  /** Closes for good; `error` when something fatal ended it. */
  close(error?: Error): void {
    if (this.closing) return
    this.closing = true
    this.endedWith =
      error && isQuestlogError(error) ? error : new ClientClosedError('the client is closed', error)
    this.stop.abort()
    const conn = this.conn
    this.conn = undefined
    if (conn) {
      try {
        conn.send(JSON.stringify({ op: 'close', code: 'normal', reason: 'client closed' }))
      } catch {}
      conn.close(1000, 'client closed')
    }
    this.failPending(new ClientClosedError('the client is closed', error))
    // iterators waiting for events learn why none will come
    if (error && isQuestlogError(error)) {
      for (const s of this.subscribers.values()) s.onError(error)
      for (const p of this.presences.values()) p.onError(error)
    }
    this.status.transition({ state: 'closed', reason: error ? 'fatal_error' : 'client_closed', error })
  }

  /**
   * A session that ends because its credential did (a token expired, a key was
   * revoked) is opened again when a token function can give a fresh credential;
   * the handshake then says whether it is good. A fixed credential is dead for good.
   */
  private renewable(e: QuestlogError): boolean {
    return e.code === 'unauthorized' && typeof this.o.token === 'function'
  }

  private async run(): Promise<void> {
    let attempt = 0
    let route = this.router.next()
    while (!this.closing && !this.abandoned) {
      const url = route.url
      let error: Error | undefined
      try {
        const { conn, frames } = await this.open(url)
        if (this.closing || this.abandoned) {
          conn.close(1000, 'client closed')
          return
        }
        attempt = 0
        this.conn = conn
        this.opened++
        const broker = this.welcome?.brokerId
        this.router.connected(url, broker)
        this.status.transition({
          state: 'open',
          reason: 'connected',
          url,
          broker,
          route: { why: route.why, ...(route.from === undefined ? {} : { from: route.from }) },
        })
        for (const s of this.subscribers.values()) s.onOpen(this)
        for (const r of this.responders.values()) r.onOpen(this)
        for (const p of this.presences.values()) p.onOpen(this)
        // the welcome's live set may already show a better broker than the one first tried
        this.reroute(this.router.observe(this.brokers))
        const watchdog = this.watch(conn)
        try {
          for (;;) {
            const next = await frames.next()
            if (next.done) break
            watchdog.heard()
            this.dispatch(next.value)
          }
        } finally {
          watchdog.stop()
        }
        error = new ConnectionLostError()
      } catch (e) {
        error = e as Error
        // refused at the handshake, or ended by the broker (close code) with no fresh credential to try
        const opened = this.conn !== undefined
        if (isQuestlogError(e) && FATAL_CODES.has(e.code) && !(opened && this.renewable(e))) {
          this.close(e)
          return
        }
      }
      if (this.closing || this.abandoned) return
      const wasOpen = this.conn !== undefined
      this.conn = undefined
      this.failPending(new ConnectionLostError('the connection to the broker was lost', error))
      for (const s of this.subscribers.values()) s.onLost()
      const move = this.moving
      this.moving = undefined
      if (move && wasOpen) {
        // leaving on purpose: straight to the broker chosen, no backoff
        this.status.transition({ state: 'reconnecting', reason: 'rerouted', attempt: 0 })
        route = move
        continue
      }
      this.router.failed(url)
      route = this.router.next(url)
      this.status.transition({
        state: 'reconnecting',
        reason: wasOpen ? 'connection_lost' : 'connect_failed',
        attempt,
        error,
      })
      try {
        await sleep(backoffDelay(attempt++, this.o.backoff), this.stop.signal)
      } catch {
        return
      }
    }
  }

  /** Acts on a move the router asked for: closes the connection open now; `run` opens the one chosen. */
  private reroute(move: Route | undefined): void {
    if (!move || this.moving || !this.conn || this.closing || this.abandoned) return
    this.moving = move
    this.conn.close(1000, `rerouting (${move.why})`)
  }

  /** Pings a quiet connection and drops one that stays silent, which a half-open TCP connection would. */
  private watch(conn: TransportConnection): { heard(): void; stop(): void } {
    let last = Date.now()
    const timer = setInterval(
      () => {
        // a broker over the threshold leaves the client's choice once it has been on it long enough
        this.reroute(this.router.decide())
        const quiet = Date.now() - last
        if (quiet >= 2 * this.o.pingIntervalMs) conn.close(4000, 'no answer to ping')
        else if (quiet >= this.o.pingIntervalMs) this.send({ op: 'ping', t: Date.now() })
      },
      // at least each second: a move due after minStayMs should not wait for the next ping
      Math.min(this.o.pingIntervalMs / 2, 1000),
    )
    ;(timer as { unref?: () => void }).unref?.()
    return {
      heard: () => {
        last = Date.now()
      },
      stop: () => clearInterval(timer),
    }
  }

  /** Connects and does the hello/welcome handshake. */
  private async open(url: string) {
    const signal = AbortSignal.any([this.stop.signal, AbortSignal.timeout(this.o.connectTimeoutMs)])
    const conn = await this.o.transport.connect(url, signal)
    const frames = conn.frames[Symbol.asyncIterator]()
    try {
      const hello: ClientFrame = { op: 'hello', v: PROTOCOL_VERSION }
      const token = typeof this.o.token === 'function' ? await this.o.token() : this.o.token
      if (token !== undefined) hello.token = token
      if (this.o.clientName !== undefined) hello.client = this.o.clientName
      conn.send(JSON.stringify(hello))
      const first = await Promise.race([
        frames.next(),
        new Promise<never>((_, reject) => {
          signal.addEventListener('abort', () => reject(new ConnectionLostError('handshake timed out')), {
            once: true,
          })
        }),
      ])
      if (first.done) throw new ConnectionLostError('the broker closed the connection during the handshake')
      const frame = JSON.parse(first.value) as ServerFrame
      if (frame.op === 'error') throw errorFromBody({ error: frame })
      if (frame.op !== 'welcome') throw new ConnectionLostError(`expected welcome, got ${frame.op}`)
      this.welcome = frame
      this.brokers = frame.brokers ?? []
      this.o.onPublishCredits?.(frame.publishCredits)
      return { conn, frames }
    } catch (e) {
      conn.close(1000, 'handshake failed')
      throw e
    }
  }

  private dispatch(text: string): void {
    let frame: ServerFrame
    try {
      frame = JSON.parse(text) as ServerFrame
    } catch {
      return
    }
    switch (frame.op) {
      case 'receipts':
      case 'reply':
      case 'ok': {
        const p = this.pending.get(frame.id)
        this.pending.delete(frame.id)
        p?.resolve(frame)
        return
      }
      case 'events':
        this.subscribers.get(frame.sid)?.onEvents(frame.events)
        return
      case 'request':
        this.responders.get(frame.rid)?.onRequest(frame)
        return
      case 'subscribed':
        this.subscribers.get(frame.sid)?.onSubscribed(frame)
        return
      case 'credits':
        this.o.onPublishCredits?.(frame.publish)
        return
      case 'presence_snapshot':
        this.presences.get(frame.sid)?.onSnapshot(frame)
        return
      case 'presence':
        this.presences.get(frame.sid)?.onDelta(frame)
        return
      case 'brokers':
        this.brokers = frame.brokers
        this.reroute(this.router.observe(frame.brokers))
        return
      case 'error': {
        const error = errorFromBody({ error: frame })
        if (frame.id !== undefined) {
          const p = this.pending.get(frame.id)
          this.pending.delete(frame.id)
          p?.reject(error)
        } else if (frame.sid !== undefined) {
          this.subscribers.get(frame.sid)?.onError(error)
          this.presences.get(frame.sid)?.onError(error)
        } else if (FATAL_CODES.has(error.code)) {
          // the broker closes the connection next; a renewable session then opens again
          if (this.renewable(error)) this.conn?.close(1000, 'renewing the credential')
          else this.close(error)
        }
        return
      }
      case 'ping':
        this.send({ op: 'pong', ...(frame.t === undefined ? {} : { t: frame.t }) })
        return
      default:
        return
    }
  }

  private failPending(error: Error): void {
    const all = [...this.pending.values()]
    this.pending.clear()
    for (const p of all) p.reject(error)
  }
}
