import { isUtf8 } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import {
  BadRequestError,
  BROKER_FEATURES,
  type ClientFrame,
  ConflictError,
  clientFrameSchema,
  type ErrorCode,
  isAllowedPattern,
  PROTOCOL_VERSION,
  parseTimeParam,
  QuestlogError,
  SUPPORTED_PROTOCOL_VERSIONS,
  type SubscribeFrame,
  TopicNotFoundError,
  toReceiptRuns,
  ValidationError,
  validationErrorFromZod,
  WS_CLOSE_CODES,
} from '@questlog/protocol'
import type { WebSocket } from 'ws'
import { requireGroupName, usableSubscription } from '../auth/consumer-access'
import { isSuperuser, OPEN, type Principal, requireTopic } from '../auth/principal'
import { toQuestlogError } from '../errors'
import { parsePublishBody } from '../publish/parse-body'
import { columnsHeader, eventsFromColumns } from '../publish/parse-columns'
import type { WireEvent } from '../publish/validate'
import { decodeCursor, encodeCursor } from '../read/cursor'
import { resolvePositions } from '../read/reader'
import { handleRpcFrame, type RpcFrame } from '../rpc/rpc-frames'
import { type RpcPeer, type RpcRouter, rpcRouterOf } from '../rpc/rpc-router'
import type { Services } from '../services'
import { SlowConsumerWatch } from './slow-consumer-watch'
import { type SettleFrame, WsNamedSubscription } from './ws-named-subscription'
import { WsPresence } from './ws-presence'
import { WsSubscription } from './ws-subscription'

const HELLO_TIMEOUT_MS = 10_000

/** Publish window when the broker is at ease, and the floor it shrinks to under back-pressure. */
export const PUBLISH_CREDITS = { initial: 2000, min: 100, step: 100 } as const
const DEFAULT_SUBSCRIBE_CREDITS = 1000
/** How long a consumer-group member may stay silent before its partitions move (Kafka's is 45 s). */
const DEFAULT_GROUP_SESSION_TIMEOUT_MS = 10_000
const SEND_HIGH_WATER = 4 * 1024 * 1024

/** One client on `GET /v1/ws`: the handshake, then frames in, frames out. */
export class WsConnection {
  private greeted = false
  private authenticating = false
  /** Who this connection acts for; settled by the hello frame. */
  private principal: Principal = OPEN
  private readonly subs = new Map<string, WsSubscription>()
  /** Subscriptions consuming a named subscription (queue or stream semantics), by sid. */
  private readonly named = new Map<string, WsNamedSubscription>()
  /** Subscriptions asked for and still being set up. */
  private readonly opening = new Map<string, Promise<void>>()
  private publishCredits: number = PUBLISH_CREDITS.initial
  /** Resolves once the publish received last waits in its partitions' queues: publishes get there in the order sent. */
  private publishTurn: Promise<void> = Promise.resolve()
  /** Publishes carrying this epoch or an older one are refused: one of them failed (see the publish frame). */
  private fencedEpoch = -1
  private frameTokens: number
  private frameAt = Date.now()
  private refused = 0
  private refusedSince = 0
  private flooded = false
  private readonly helloTimer: NodeJS.Timeout
  /** Stops watching the credential's end (see SessionWatch). */
  private unwatchSession: (() => void) | undefined
  /** Stops the `brokers` frames that keep this client's view of the live set current. */
  private offBrokers: (() => void) | undefined
  /** Gives back this connection's place in its key's quota of connections. */
  private releaseConnection: () => void = () => {}
  private readonly sendWatch: SlowConsumerWatch
  private readonly rpc: RpcRouter
  /** The members this connection entered and the channels it watches. */
  private readonly presence: WsPresence
  /** This connection as request/reply sees it. */
  /** Frames this connection may send past its rate: one per request the broker routed to it (for the reply). */
  private replyCredits = 0
  private readonly peer: RpcPeer = {
    send: (frame) => {
      if ((frame as { op?: string }).op === 'request')
        this.replyCredits = Math.min(this.s.config.maxFramesPerSecond, this.replyCredits + 1)
      this.send(frame)
    },
  }

  constructor(
    private readonly ws: WebSocket,
    private readonly s: Services,
    /** The credential sent with the upgrade request, if any; throws when it may not be used (a key in the query). */
    private readonly upgradeCredential: () => string | undefined = () => undefined,
  ) {
    this.rpc = rpcRouterOf(s)
    this.presence = new WsPresence({
      presence: s.presence,
      config: s.config,
      principal: () => this.principal,
      send: (frame) => this.send(frame),
      congested: () => this.congested(),
      lapsed: () => {
        this.shutdown(
          'going_away',
          "silent for longer than a presence member's TTL; reconnect and enter again",
        )
        setTimeout(() => this.ws.terminate(), 1000).unref()
      },
    })
    this.frameTokens = s.config.maxFramesPerSecond
    this.sendWatch = new SlowConsumerWatch(
      () => this.ws.bufferedAmount > SEND_HIGH_WATER,
      s.config.slowConsumerMs,
      () => this.slowConsumer(),
    )
    ws.on('message', (data, isBinary) => {
      // a connection being closed (its session ended, say) takes no more frames
      if (this.ws.readyState !== this.ws.OPEN) return
      // any frame keeps the connection's presence members alive, even one refused for the rate
      this.presence.heard()
      if (!this.admitFrame()) return
      if (isBinary) this.onBinary(data as Buffer)
      else this.onMessage(data.toString())
    })
    ws.on('close', () => this.cleanup())
    ws.on('error', () => {})
    this.helloTimer = setTimeout(() => this.shutdown('bad_request', 'no hello frame'), HELLO_TIMEOUT_MS)
    this.helloTimer.unref()
  }

  /**
   * Frames per second per connection, a token bucket with a second's burst. A
   * frame over the limit is refused with `rate_limited`; a client that keeps
   * flooding past twice the limit in a second is disconnected. A responder's
   * replies are paid for by the requests routed to it: a busy responder is held
   * back by its requesters' limits, not refused the answers they wait for.
   */
  private admitFrame(): boolean {
    const limit = this.s.config.maxFramesPerSecond
    const now = Date.now()
    this.frameTokens = Math.min(limit, this.frameTokens + ((now - this.frameAt) / 1000) * limit)
    this.frameAt = now
    if (this.frameTokens >= 1) {
      this.frameTokens -= 1
      return true
    }
    if (this.replyCredits >= 1) {
      this.replyCredits -= 1
      return true
    }
    if (now - this.refusedSince > 1000) {
      this.refusedSince = now
      this.refused = 0
    }
    this.refused++
    if (this.refused > limit) {
      if (!this.flooded) {
        this.flooded = true
        // a close frame first, so the client learns why; the socket goes if it does not close in a second
        this.shutdown(
          'rate_limited',
          `more than ${limit} frames per second; slow down`,
          WS_CLOSE_CODES.rateLimited,
        )
        setTimeout(() => this.ws.terminate(), 1000).unref()
      }
    } else if (this.refused === 1) {
      this.fail(
        new QuestlogError('rate_limited', `more than ${limit} frames per second; frames are being refused`, {
          details: { retryAfterMs: 1000 },
        }),
        {},
      )
    }
    return false
  }

  /** Closes the connection with a close frame saying why. */
  shutdown(
    code: 'normal' | 'going_away' | ErrorCode,
    reason: string,
    wsCode: number = WS_CLOSE_CODES.goingAway,
  ): void {
    this.send({ op: 'close', code, reason })
    this.ws.close(wsCode, reason.slice(0, 120))
  }

  /** Cuts the socket without a goodbye, as a network failure would. */
  terminate(): void {
    this.ws.terminate()
  }

  private send(frame: object | string): void {
    if (this.ws.readyState !== this.ws.OPEN) return
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
    this.sendWatch.observe()
  }

  /** True while the send buffer is past its mark: subscriptions then wait, and a client that stays there is let go. */
  private congested(): boolean {
    return this.sendWatch.observe()
  }

  /** The client read nothing for `slowConsumerMs`: what waits for it would only grow. */
  private slowConsumer(): void {
    const message = `this connection took nothing for ${this.s.config.slowConsumerMs} ms; reconnect to resume where you were`
    this.s.log.warn('WebSocket reader too slow; disconnecting it')
    this.fail(new QuestlogError('slow_consumer', message), {})
    this.shutdown('slow_consumer', message, WS_CLOSE_CODES.slowConsumer)
    // the close frame waits behind what the client does not read: the socket goes regardless
    setTimeout(() => this.ws.terminate(), 1000).unref()
  }

  /** The key was revoked, or the key or token expired: the session ends with it. */
  private sessionEnded(error: QuestlogError): void {
    this.fail(error, {})
    this.shutdown(error.code, error.message, WS_CLOSE_CODES.unauthorized)
    setTimeout(() => this.ws.terminate(), 1000).unref()
  }

  private fail(error: QuestlogError, to: { id?: number | undefined; sid?: string | undefined }): void {
    this.s.metrics.rejected.inc({ reason: error.code })
    const frame: Record<string, unknown> = { op: 'error', code: error.code, message: error.message }
    if (to.id !== undefined) frame.id = to.id
    if (to.sid !== undefined) frame.sid = to.sid
    if (error.details !== undefined) frame.details = error.details
    this.send(frame)
  }

  private onMessage(text: string): void {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      this.fail(new BadRequestError('a frame is one JSON object'), {})
      return
    }
    const raw = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>
    const to = {
      id: typeof raw.id === 'number' ? raw.id : undefined,
      sid: typeof raw.sid === 'string' ? raw.sid : undefined,
    }
    // a publish frame's events are parsed by the same step as an HTTP publish body
    if (
      this.greeted &&
      raw.op === 'publish' &&
      to.id !== undefined &&
      typeof raw.topic === 'string' &&
      (raw.epoch === undefined || (Number.isSafeInteger(raw.epoch) && (raw.epoch as number) >= 0)) &&
      (raw.receipts === undefined || raw.receipts === 'runs' || raw.receipts === 'full')
    ) {
      void this.publish(
        to.id,
        raw.topic,
        () => parsePublishBody({ events: raw.events }).events,
        raw.epoch as number | undefined,
        raw.receipts === 'runs',
      )
      return
    }
    const parsed = clientFrameSchema.safeParse(json)
    if (!parsed.success) {
      this.fail(validationErrorFromZod(parsed.error), to)
      return
    }
    this.handle(parsed.data)
  }

  /** A binary message: a publish in columns (see `publishColumnsHeaderSchema`). */
  private onBinary(data: Buffer): void {
    const newline = data.indexOf(10)
    let json: unknown
    try {
      if (newline < 0) throw new Error('no newline')
      json = JSON.parse(data.toString('utf8', 0, newline))
    } catch {
      this.fail(
        new BadRequestError(
          'a binary frame is a publish in columns: a JSON header, a newline, then the payloads as one JSON array',
        ),
        {},
      )
      return
    }
    const raw = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>
    const to = { id: typeof raw.id === 'number' ? raw.id : undefined }
    if (!this.greeted) {
      this.fail(new BadRequestError('the first frame must be hello'), to)
      return
    }
    let header: ReturnType<typeof columnsHeader>
    try {
      header = columnsHeader(json)
    } catch (e) {
      this.fail(this.coded(e), to)
      return
    }
    const payloads = data.subarray(newline + 1)
    void this.publish(
      header.id,
      header.topic,
      () => {
        if (!isUtf8(payloads)) throw new BadRequestError('the payloads of a binary publish are UTF-8 text')
        return eventsFromColumns(header, payloads.toString('utf8'))
      },
      header.epoch,
      header.receipts === 'runs',
    )
  }

  private handle(frame: ClientFrame): void {
    if (!this.greeted) {
      if (this.authenticating) {
        this.fail(new BadRequestError('wait for welcome before sending more frames'), {})
        return
      }
      if (frame.op !== 'hello') {
        this.fail(new BadRequestError('the first frame must be hello'), {})
        this.shutdown('bad_request', 'no hello', WS_CLOSE_CODES.protocolError)
        return
      }
      if (!SUPPORTED_PROTOCOL_VERSIONS.includes(frame.v)) {
        const message = `protocol version ${frame.v} is not supported; this broker speaks ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}: upgrade the client`
        this.fail(new BadRequestError(message, { details: { supported: SUPPORTED_PROTOCOL_VERSIONS } }), {})
        this.shutdown('bad_request', message, WS_CLOSE_CODES.unsupportedVersion)
        return
      }
      this.authenticating = true
      void this.authenticate(frame.token)
      return
    }
    switch (frame.op) {
      case 'hello':
        this.fail(new BadRequestError('hello was already received'), {})
        return
      case 'publish':
        void this.publish(frame.id, frame.topic, () => frame.events, frame.epoch, frame.receipts === 'runs')
        return
      case 'subscribe':
        void this.subscribe(frame).catch((e) => this.fail(this.coded(e), { sid: frame.sid }))
        return
      case 'unsubscribe':
        void this.subs.get(frame.sid)?.stop()
        this.subs.delete(frame.sid)
        void this.named.get(frame.sid)?.stop()
        this.named.delete(frame.sid)
        this.presence.unwatch(frame.sid)
        return
      case 'presence':
      case 'presence_watch':
        try {
          if (frame.op === 'presence') this.presence.handle(frame)
          else this.presence.watch(frame)
        } catch (e) {
          this.fail(this.coded(e), frame.op === 'presence' ? { id: frame.id } : { sid: frame.sid })
        }
        return
      case 'ack':
      case 'nak':
      case 'term':
        this.settle(frame)
        return
      case 'credits':
        this.subs.get(frame.sid)?.setCredits(frame.credits)
        this.named.get(frame.sid)?.setCredits(frame.credits)
        return
      case 'request':
      case 'respond':
      case 'unrespond':
      case 'reply':
        this.handleRpc(frame)
        return
      case 'ping':
        this.send(frame.t === undefined ? { op: 'pong' } : { op: 'pong', t: frame.t })
        return
      case 'pong':
        return
      case 'close':
        this.ws.close(WS_CLOSE_CODES.normal, 'bye')
        return
    }
  }

  /** ack, nak and term: by `[partition, offset]` on a topic subscription, by token on a named one. */
  private settle(frame: SettleFrame): void {
    const opening = this.opening.get(frame.sid)
    if (opening && !this.named.has(frame.sid) && !this.subs.has(frame.sid)) {
      // a client resuming after a reconnect settles what it held as soon as its subscribe is sent
      void opening.then(() => this.settle(frame))
      return
    }
    const named = this.named.get(frame.sid)
    let done = Promise.resolve()
    if (named) done = named.settle(frame)
    else {
      const sub = this.subs.get(frame.sid)
      if (frame.op === 'ack' && sub && frame.acks) done = sub.ack(frame.acks)
      else if (frame.op === 'nak' && frame.partition !== undefined && frame.offset !== undefined)
        sub?.nak(frame.partition, Number(frame.offset), frame.delayMs ?? 0)
    }
    const id = frame.id
    done.then(
      () => {
        if (id !== undefined) this.send({ op: 'ok', id })
      },
      (e) => this.fail(this.coded(e), { id }),
    )
  }

  /** Request/reply frames, routed by the broker's RpcRouter. */
  private handleRpc(frame: RpcFrame): void {
    try {
      handleRpcFrame(this.rpc, this.peer, this.principal, frame)
    } catch (e) {
      this.fail(this.coded(e), { id: 'id' in frame ? frame.id : undefined })
    }
  }

  private async authenticate(token: string | undefined): Promise<void> {
    try {
      if (this.s.config.auth === 'off') this.principal = OPEN
      else {
        const fromUpgrade = this.upgradeCredential()
        this.principal = await this.s.keys.authenticate(token ?? fromUpgrade)
      }
    } catch (e) {
      const error = this.coded(e)
      this.fail(error, {})
      this.shutdown(error.code, error.message, WS_CLOSE_CODES.unauthorized)
      return
    }
    // the key's connections are counted across the cluster (asked only where a quota binds, so a
    // client of a broker with auth off may still send its frames right after hello)
    if (this.s.quotas.limit(this.principal, 'connections') !== null) {
      try {
        this.releaseConnection = await this.s.quotas.hold(this.principal, 'connections')
      } catch (e) {
        const error = this.coded(e)
        this.fail(error, {})
        this.shutdown(error.code, error.message, WS_CLOSE_CODES.rateLimited)
        return
      }
      if (this.ws.readyState !== this.ws.OPEN) {
        this.releaseConnection()
        return
      }
    }
    clearTimeout(this.helloTimer)
    if (this.ws.readyState !== this.ws.OPEN) return
    this.unwatchSession = this.s.keys.sessions.watch(this.principal, (e) => this.sessionEnded(e))
    this.greeted = true
    const registry = this.s.cluster.registry
    const full = isSuperuser(this.principal)
    this.send({
      op: 'welcome',
      v: PROTOCOL_VERSION,
      brokerId: this.s.brokerId,
      publishCredits: this.publishCredits,
      maxBatchEvents: this.s.config.maxBatchEvents,
      features: BROKER_FEATURES,
      brokers: registry.view(full),
    })
    if (this.ws.readyState === this.ws.OPEN)
      this.offBrokers = registry.onChange(() => this.send(registry.frame(full)))
  }

  private coded(e: unknown): QuestlogError {
    const { error, unexpected } = toQuestlogError(e)
    if (unexpected) this.s.log.error({ err: e }, 'websocket request failed')
    return error
  }

  /**
   * Publishes of one connection pass their checks and join the partitions'
   * write queues one after another, in the order sent, and are answered as each
   * commits: a client may keep several in flight and still keep per-key order.
   */
  private async publish(
    id: number,
    topic: string,
    /** Reads the publish's events, checked against the publish schema; called in the connection's turn. */
    read: () => WireEvent[],
    epoch: number | undefined,
    runs: boolean,
  ): Promise<void> {
    const before = this.publishTurn
    let queued!: () => void
    this.publishTurn = new Promise<void>((resolve) => {
      queued = resolve
    })
    const fence = () => {
      if (epoch !== undefined && epoch <= this.fencedEpoch) {
        throw new QuestlogError(
          'out_of_order',
          `an earlier publish of epoch ${this.fencedEpoch} failed on this connection; resend from it, in order, under a newer epoch`,
          { details: { epoch, fencedEpoch: this.fencedEpoch } },
        )
      }
    }
    try {
      await before
      fence()
      const events = read()
      const answer = await this.s.pipeline.publish({
        door: 'websocket',
        topic,
        principal: this.principal,
        events,
        batch: true,
        // checked again as the events are queued: an earlier publish may have failed meanwhile
        turn: { admit: fence, queued },
      })
      const receipts = 'receipts' in answer ? answer.receipts : [answer]
      const frame: Record<string, unknown> = runs
        ? {
            op: 'receipts',
            id,
            runs: toReceiptRuns(
              receipts,
              events.map((e) => e.id),
            ),
          }
        : { op: 'receipts', id, receipts }
      if (answer.backpressure) frame.backpressure = answer.backpressure
      this.send(frame)
      this.adjustCredits(answer.backpressure !== undefined)
    } catch (e) {
      // fenced before the next publish of this connection may go on
      if (epoch !== undefined) this.fencedEpoch = Math.max(this.fencedEpoch, epoch)
      const error = this.coded(e)
      this.fail(error, { id })
      if (error.code === 'backpressure') this.adjustCredits(true)
    } finally {
      // a publish refused before it was queued releases the next one here
      queued()
    }
  }

  /** Halves the publish window under back-pressure and grows it back a step per calm batch (AIMD). */
  private adjustCredits(pressed: boolean): void {
    const next = pressed
      ? Math.max(PUBLISH_CREDITS.min, Math.floor(this.publishCredits / 2))
      : Math.min(PUBLISH_CREDITS.initial, this.publishCredits + PUBLISH_CREDITS.step)
    if (next === this.publishCredits) return
    this.publishCredits = next
    this.send({ op: 'credits', publish: next })
  }

  private async subscribe(f: SubscribeFrame): Promise<void> {
    if (this.subs.has(f.sid) || this.named.has(f.sid) || this.opening.has(f.sid))
      throw new BadRequestError(`subscription '${f.sid}' already exists on this connection`)
    // counted from the moment it is asked for: subscribes arriving together cannot slip past the cap
    const limit = this.s.config.maxSubscriptionsPerConnection
    const pending = [...this.opening.keys()].filter(
      (sid) => !this.subs.has(sid) && !this.named.has(sid),
    ).length
    if (this.subs.size + this.named.size + pending >= limit) {
      throw new BadRequestError(`at most ${limit} subscriptions per connection; open another connection`)
    }
    const opened = this.openSubscription(f)
    this.opening.set(
      f.sid,
      opened.then(
        () => {},
        () => {},
      ),
    )
    try {
      await opened
    } finally {
      this.opening.delete(f.sid)
    }
  }

  private async openSubscription(f: SubscribeFrame): Promise<void> {
    if (f.subscription !== undefined) return this.consume(f, f.subscription)
    if (f.topic === undefined)
      throw new ValidationError([{ path: 'topic', message: 'give a topic, or a named subscription' }])
    requireTopic(this.principal, 'subscribe', f.topic)
    // a group's offsets are stored under its name: only names of the key's own
    if (f.group !== undefined) requireGroupName(this.principal, f.group)
    if (f.group !== undefined && f.partition !== undefined)
      throw new ValidationError([
        { path: 'partition', message: 'a group divides the partitions among its members' },
      ])
    const topic = await this.s.topics.get(f.topic)
    const cursor = f.cursor === undefined ? undefined : decodeCursor(f.cursor, topic.id, 'cursor').positions
    for (const p of cursor?.keys() ?? []) {
      if (p >= topic.partitions) throw new ValidationError([{ path: 'cursor', message: 'unknown partition' }])
    }
    let positions: Map<number, number>
    if (cursor !== undefined && f.group === undefined) positions = cursor
    else {
      // a group member also needs a start for every partition the group has never read
      const from = f.from
      positions = await resolvePositions(
        this.s.sql,
        topic,
        {
          partition: f.partition,
          from: typeof from === 'string' ? from : from && 'offset' in from ? from.offset : undefined,
          sinceMs:
            from && typeof from === 'object' && 'time' in from
              ? parseTimeParam(from.time)!.getTime()
              : undefined,
        },
        'latest',
      )
      for (const [p, o] of cursor ?? []) positions.set(p, o)
    }
    if (this.ws.readyState !== this.ws.OPEN || this.subs.has(f.sid)) return
    const sub = new WsSubscription(
      this.s,
      {
        send: (text) => this.send(text),
        congested: () => this.congested(),
        drained: () => this.drained(),
      },
      {
        sid: f.sid,
        topic,
        positions,
        group:
          f.group === undefined
            ? undefined
            : {
                name: f.group,
                // without an id of its own, the member is this connection's
                member: f.member ?? `ws-${randomBytes(9).toString('base64url')}`,
                sessionTimeoutMs: f.sessionTimeoutMs ?? DEFAULT_GROUP_SESSION_TIMEOUT_MS,
              },
        key: f.key,
        type: f.type,
        credits: f.credits ?? DEFAULT_SUBSCRIBE_CREDITS,
        onEnd: (e) => {
          this.subs.delete(f.sid)
          this.fail(e === undefined ? new TopicNotFoundError(topic.name) : this.coded(e), { sid: f.sid })
        },
        // a group member says which partitions it reads each time they change
        onAssigned: (at) => this.announce(f.sid, at),
      },
    )
    this.subs.set(f.sid, sub)
    // a resume point before the first event (a group resumes from its committed positions instead)
    if (f.group === undefined) this.announce(f.sid, positions, encodeCursor({ topicId: topic.id, positions }))
    await sub.start()
  }

  private announce(sid: string, positions: Map<number, number>, cursor?: string): void {
    this.send({
      op: 'subscribed',
      sid,
      positions: Object.fromEntries([...positions].map(([p, o]) => [String(p), String(o)])),
      ...(cursor === undefined ? {} : { cursor }),
    })
  }

  /** Joins a named subscription as one member; its deliveries come with tokens. */
  private async consume(f: SubscribeFrame, name: string): Promise<void> {
    const sub = await usableSubscription(this.principal, this.s.delivery.subs, name, 'subscribe')
    if (f.ordering !== undefined && f.ordering !== sub.ordering) {
      throw new ConflictError(
        `subscription '${name}' has ordering '${sub.ordering}', not '${f.ordering}' (set when it is created)`,
        { subscription: name, ordering: sub.ordering },
      )
    }
    if (this.ws.readyState !== this.ws.OPEN || this.named.has(f.sid) || this.subs.has(f.sid)) return
    const consumer = new WsNamedSubscription(
      this.s,
      {
        send: (text) => this.send(text),
        congested: () => this.congested(),
        drained: () => this.drained(),
      },
      {
        sid: f.sid,
        subscription: sub,
        credits: f.credits ?? DEFAULT_SUBSCRIBE_CREDITS,
        onEnd: (e) => {
          this.named.delete(f.sid)
          this.fail(this.coded(e), { sid: f.sid })
        },
      },
    )
    this.named.set(f.sid, consumer)
    this.send({ op: 'subscribed', sid: f.sid, positions: {} })
    consumer.start()
  }

  private async drained(): Promise<void> {
    // ws has no drain event of its own; the underlying socket does
    const socket = (this.ws as unknown as { _socket?: NodeJS.EventEmitter })._socket
    while (this.ws.readyState === this.ws.OPEN && this.congested()) {
      if (socket) await Promise.race([once(socket, 'drain'), new Promise((r) => setTimeout(r, 50))])
      else await new Promise((r) => setTimeout(r, 10))
    }
  }

  private cleanup(): void {
    clearTimeout(this.helloTimer)
    this.offBrokers?.()
    this.releaseConnection()
    this.unwatchSession?.()
    this.sendWatch.stop()
    this.rpc.disconnect(this.peer)
    this.presence.close()
    for (const sub of this.subs.values()) void sub.stop()
    this.subs.clear()
    for (const sub of this.named.values()) void sub.stop()
    this.named.clear()
  }
}
