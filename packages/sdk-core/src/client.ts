import {
  type BrokerInfo,
  fromReceiptRuns,
  type PublishEvent,
  QuestlogError,
  type Receipt,
  type ValidationError,
  validationErrorFromZod,
} from '@questlog/protocol'
import type { OverrunPolicy } from './buffer'
import { columnsFrame, columnsOf } from './columns'
import type { Deadline } from './deadline'
import { createDedupeKeys, createSequence } from './dedupe'
import { ClientClosedError } from './errors'
import { httpCall } from './http'
import { PresenceChannel, type PresenceOptions } from './presence'
import {
  type BatchOrder,
  type BatchResult,
  type EncodedBatch,
  Producer,
  type ProducerStats,
  QueuedEvent,
} from './producer'
import { type RequestOptions, sendRequest } from './requester'
import { type RequestHandler, type Responder, type RespondOptions, SessionResponderImpl } from './responder'
import { type BackoffOptions, DEFAULT_BACKOFF, DEFAULT_RETRY_BUDGET, type RetryBudgetOptions } from './retry'
import type { RouterOptions } from './router'
import type { RequestRef } from './rpc-def'
import { Session, type TokenSource } from './session'
import type { Status } from './status'
import { type EventSubscription, type SubscribeOptions, Subscription } from './subscription'
import { LiveTable, type TableOptions } from './table'
import { checkPayload, type TopicDef, type TopicRef, topicName } from './topic'
import { type Transport, webSocketUrl } from './transport'

export interface ClientOptions {
  /** Broker base URLs (`http://localhost:4600`); tried in turn. */
  brokers: string[]
  /** API key or token sent in the hello frame; a function is asked again before each connect (short-lived tokens). */
  token?: TokenSource
  /** Opens connections; each SDK passes its platform's. Null when a subclass carries everything over HTTP. */
  transport: Transport | null
  /** Name and version of the application, for the broker's logs. */
  clientName?: string
  /** Most events in one publish batch (default 1000). */
  maxBatchEvents?: number
  /** Most estimated payload bytes in one batch (default 1 MiB). */
  maxBatchBytes?: number
  /**
   * How long a batch that is not full waits for more events before it is sent, in ms (default 0:
   * an idle client sends at once, and while a batch is in flight the next one fills by itself).
   */
  lingerMs?: number
  /**
   * Most publish batches awaiting their receipts at once (default 4). Per-key order holds
   * at any depth: a batch is never stored ahead of one sent before it.
   */
  maxInFlightBatches?: number
  /** Most events waiting to be sent (default 100 000). */
  bufferCapacity?: number
  /** What `publish` does when the buffer is full (default `block`). */
  overrun?: OverrunPolicy
  /** Backoff between reconnects and between retries of a batch. */
  backoff?: BackoffOptions
  /** Cap on retries as a share of traffic. */
  retryBudget?: RetryBudgetOptions
  /** A publish not stored within this time fails (default 120 s). */
  deliveryTimeoutMs?: number
  /** Connect plus handshake must finish within this (default 10 s). */
  connectTimeoutMs?: number
  /** Ping a connection quiet for this long; drop it after twice as long without a frame (default 15 s). */
  pingIntervalMs?: number
  /** Health-aware routing among the brokers: thresholds, stickiness, cooldown (see `RoutingOptions`). */
  routing?: RoutingOptions
}

/** How the client picks its broker (see README "Running several brokers"). */
export interface RoutingOptions extends Partial<RouterOptions> {
  /** Also connect to brokers the cluster names beyond those given (default true); false keeps to `brokers`. */
  discover?: boolean
}

export interface PublishOptions {
  /** Partition key: events with the same key keep their order. */
  key?: string
  partition?: number
  /** Dotted event type; defaults to the topic name. */
  type?: string
  headers?: Record<string, string>
  /** Overrides the generated dedupe key. */
  dedupeKey?: string
  /** Event id; the broker assigns a UUIDv7 when absent. */
  id?: string
  /**
   * When the event happened, as the game saw it (read back as `eventTime`, beside the broker's
   * commit `time`); at most an hour ahead of the broker's clock.
   */
  time?: Date | string
  /** Cancels the publish while it is still queued. */
  signal?: AbortSignal
}

/** Publishes for later: the event is stored now and delivered at its time (live-ops schedules). */
export interface ScheduleOptions {
  /** When to deliver; give this or `delayMs`. */
  deliverAt?: Date | string
  /** Deliver after this long. */
  delayMs?: number
}

/** Publisher confirmations: the receipt comes only once `confirm` subscriptions have acked the event. */
export interface ConfirmOptions {
  confirm?: number
  /** How long to wait for the acks (default 10 s); a TimeoutError then, the event stays published. */
  confirmTimeoutMs?: number
}

export interface ScheduledReceipt {
  id: string
  topic: string
  deliverAt: string
}

export type BatchEntry<T> = PublishOptions & { data: T }

const NO_OPTIONS = {}

/** The transport-agnostic client behind both SDKs. */
export class QuestlogClient {
  protected readonly session: Session
  protected readonly producer: Producer
  protected readonly brokers: string[]
  protected readonly token: TokenSource | undefined
  private readonly nextDedupeKey = createDedupeKeys()
  /** Numbers the events queued without a dedupe key of their own. */
  private readonly sequence = createSequence()
  private subscriptions = 0
  private responders = 0
  private presences = 0
  protected closing: Promise<void> | undefined
  private readonly inFlightLimit: number
  /** The connection the last publish went on. */
  private publishedOn: number | undefined

  constructor(o: ClientOptions) {
    if (o.brokers.length === 0) throw new RangeError('give at least one broker URL')
    this.session = new Session({
      urls: o.brokers.map(webSocketUrl),
      routing: o.routing,
      discoverBrokers: o.routing?.discover,
      toUrl: webSocketUrl,
      transport: o.transport ?? noTransport,
      token: o.token,
      clientName: o.clientName,
      backoff: o.backoff ?? DEFAULT_BACKOFF,
      connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
      pingIntervalMs: o.pingIntervalMs ?? 15_000,
      onPublishCredits: (n) => {
        this.producer.pacer.credits = n
      },
    })
    this.producer = new Producer(
      {
        maxEvents: o.maxBatchEvents ?? 1000,
        maxBytes: o.maxBatchBytes ?? 1024 * 1024,
        lingerMs: o.lingerMs ?? 0,
        bufferCapacity: o.bufferCapacity ?? 100_000,
        overrun: o.overrun ?? 'block',
        backoff: o.backoff ?? DEFAULT_BACKOFF,
        retryBudget: o.retryBudget ?? DEFAULT_RETRY_BUDGET,
        deliveryTimeoutMs: o.deliveryTimeoutMs ?? 120_000,
        maxInFlight: () => this.maxInFlightBatches(),
        columns: (events) => (this.takesColumns() ? columnsOf(events) : undefined),
      },
      (topic, events, signal, encoded, order) => this.sendBatch(topic, events, signal, encoded, order),
    )
    this.inFlightLimit = Math.max(1, o.maxInFlightBatches ?? 4)
    if (o.transport) this.session.start()
    else this.session.status.transition({ state: 'open', reason: 'connected', url: o.brokers[0]! })
    this.brokers = o.brokers
    this.token = o.token
  }

  /**
   * Queues one event and resolves with its receipt once stored. Never waits on
   * the network unless awaited; a payload failing the topic's schema rejects at once.
   */
  publish<T>(
    topic: TopicRef<T>,
    data: T,
    options: PublishOptions & ({ deliverAt: Date | string } | { delayMs: number }),
  ): Promise<ScheduledReceipt>
  publish<T>(topic: TopicRef<T>, data: T, options?: PublishOptions & ConfirmOptions): Promise<Receipt>
  publish<T>(
    topic: TopicRef<T>,
    data: T,
    options: PublishOptions & Partial<ScheduleOptions> & ConfirmOptions = NO_OPTIONS,
  ): Promise<Receipt | ScheduledReceipt> {
    const invalid = checkPayload(topic, data)
    if (invalid) return Promise.reject(invalid)
    // the game loop's path: queued, nothing else to work out
    if (options.deliverAt === undefined && options.delayMs === undefined && options.confirm === undefined)
      return this.enqueue(topicName(topic), data, options)
    const { deliverAt, delayMs, confirm, confirmTimeoutMs, signal: _signal, ...event } = options
    const name = encodeURIComponent(topicName(topic))
    if (deliverAt !== undefined || delayMs !== undefined) {
      // stored by the broker now, written to the log (and delivered) when due
      return httpCall(this.httpBroker(), this.token, 'POST', `/v1/topics/${name}/scheduled`, {
        event: { ...event, data },
        ...(deliverAt !== undefined
          ? { deliverAt: deliverAt instanceof Date ? deliverAt.toISOString() : deliverAt }
          : { delayMs }),
      })
    }
    if (confirm !== undefined) {
      const query = `confirm=${confirm}${confirmTimeoutMs === undefined ? '' : `&confirmTimeoutMs=${confirmTimeoutMs}`}`
      return httpCall<Receipt>(this.httpBroker(), this.token, 'POST', `/v1/topics/${name}/events?${query}`, {
        ...event,
        dedupeKey: event.dedupeKey ?? this.nextDedupeKey(),
        data,
      })
    }
    return this.enqueue(topicName(topic), data, options)
  }

  /** Cancels a scheduled event that is not due yet. */
  async cancelScheduled(id: string): Promise<void> {
    await httpCall(this.httpBroker(), this.token, 'DELETE', `/v1/scheduled/${encodeURIComponent(id)}`)
  }

  /**
   * Registers the topic's schema with the broker's schema registry as its next
   * version (JSON Schema produced from the zod schema). The broker then checks
   * every event against it, and refuses a version incompatible with the last.
   */
  async registerSchema<T>(
    topic: TopicDef<T>,
    options: { compatibility?: 'backward' | 'forward' | 'full' | 'none' } = {},
  ): Promise<{ version: number }> {
    if (!topic.schema) throw new RangeError(`topic '${topic.name}' was defined without a schema`)
    return httpCall(
      this.httpBroker(),
      this.token,
      'POST',
      `/v1/topics/${encodeURIComponent(topic.name)}/schemas`,
      {
        schema: topic.schema.toJSONSchema(),
        ...options,
      },
    )
  }

  /** Queues several events of one topic; all are checked before any is queued. */
  publishBatch<T>(topic: TopicRef<T>, entries: BatchEntry<T>[]): Promise<Receipt[]> {
    for (let i = 0; i < entries.length; i++) {
      const invalid = checkPayload(topic, entries[i]!.data)
      if (invalid) return Promise.reject(prefixed(invalid, `events.${i}`))
    }
    const name = topicName(topic)
    return Promise.all(entries.map(({ data, ...o }) => this.enqueue(name, data, o)))
  }

  /** Subscribes to a topic; iterate the result with `for await`. */
  subscribe<T>(topic: TopicRef<T>, options: SubscribeOptions = {}): EventSubscription<T> {
    if (this.closing) throw new ClientClosedError()
    return new Subscription<T>(this.session, `s${++this.subscriptions}`, topicName(topic), options)
  }

  /**
   * A compacted topic as a live `Map` of key → latest value: its snapshot, then every change
   * (`on('change', …)`), a tombstone (`data: null`) removing its key. Await `ready` for the snapshot.
   */
  table<T>(topic: TopicRef<T>, options: TableOptions = {}): LiveTable<T> {
    if (this.closing) throw new ClientClosedError()
    return new LiveTable<T>(
      {
        topic: topicName(topic),
        getJson: (path) => this.getFromAnyBroker(path),
        subscribe: (o) => this.subscribe(topic as TopicRef<T | null>, o),
      },
      options,
    )
  }

  /** A GET over HTTP, from the brokers in turn while they cannot be reached. */
  private async getFromAnyBroker<R>(path: string): Promise<R> {
    let failure: unknown
    for (const broker of this.brokers) {
      try {
        return await httpCall<R>(broker, this.token, 'GET', path)
      } catch (e) {
        // a broker's answer (an error body) is final; only an unreachable one sends us to the next
        if (e instanceof QuestlogError || (e as { code?: unknown }).code !== undefined) throw e
        failure = e
      }
    }
    throw failure
  }

  /**
   * Asks one responder of `subject` and resolves with its reply. Rejects with
   * `NoRespondersError` at once when nobody serves the subject, `TimeoutError`
   * when no reply came within `timeoutMs`, or the responder's own error.
   */
  request<Req, Res = unknown>(
    subject: RequestRef<Req, Res>,
    data: Req,
    options: RequestOptions = {},
  ): Promise<Res> {
    if (this.closing) return Promise.reject(new ClientClosedError())
    return sendRequest(this.session, subject, data, options)
  }

  /**
   * Answers requests whose subject matches `subject` (a pattern like `math.*` is
   * allowed). Several responders of one subject share the requests in turn.
   * Resolves once the broker routes requests here.
   */
  respond<Req, Res>(
    subject: RequestRef<Req, Res>,
    handler: RequestHandler<Req, Res>,
    options: RespondOptions = {},
  ): Promise<Responder> {
    if (this.closing) return Promise.reject(new ClientClosedError())
    const r = new SessionResponderImpl(this.session, `r${++this.responders}`, subject, handler, options)
    return r.ready.then(() => r)
  }

  /**
   * A presence channel: `enter(info)`, `update(info)`, `leave()`, `members()`, and its changes
   * (`join`, `update`, `leave`) with `for await`. Needs the `presence` action on the channel.
   */
  presence<Info = unknown>(channel: string, options: PresenceOptions = {}): PresenceChannel<Info> {
    if (this.closing) throw new ClientClosedError()
    return new PresenceChannel<Info>(this.session, `p${++this.presences}`, channel, options)
  }

  /** Resolves when everything queued so far is stored (or failed). */
  flush(): Promise<void> {
    return this.producer.flush()
  }

  /** Drains the queue, then closes the connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.producer.close()
      this.session.close()
    })()
    return this.closing
  }

  status(): AsyncIterable<Status> {
    return this.session.status.status()
  }

  currentStatus(): Status {
    return this.session.status.get()
  }

  closed(): Promise<Error | undefined> {
    return this.session.status.closed()
  }

  /**
   * The cluster's live brokers (URL and health figures of each), as the connected broker last
   * said: sent in its welcome and again whenever the set changes. Empty before the first connection.
   */
  liveBrokers(): BrokerInfo[] {
    return [...this.session.brokers]
  }

  stats(): ProducerStats {
    return this.producer.stats()
  }

  /**
   * The base URL of the broker the client is on, for calls over HTTP (scheduled events,
   * confirmations, schemas), so they follow the routing; the first broker given when none is open.
   */
  protected httpBroker(): string {
    const s = this.session.status.get()
    if (s.state === 'open' && s.reason !== 'fallback') {
      const given = this.brokers.find((b) => webSocketUrl(b) === s.url)
      if (given) return given
      const live = this.session.brokers.find((b) => webSocketUrl(b.url) === s.url)
      if (live) return live.url
    }
    return this.brokers[0]!
  }

  protected enqueue(topic: string, data: unknown, o: PublishOptions): Promise<Receipt> {
    // a dedupe key of the caller's, or the next number of this client's sequence
    const event: PublishEvent =
      o.dedupeKey !== undefined
        ? { data: data as PublishEvent['data'], dedupeKey: o.dedupeKey }
        : { data: data as PublishEvent['data'], producer: this.sequence.producer, seq: this.sequence.next() }
    if (o.key !== undefined) event.key = o.key
    if (o.partition !== undefined) event.partition = o.partition
    if (o.type !== undefined) event.type = o.type
    if (o.headers !== undefined) event.headers = o.headers
    if (o.id !== undefined) event.id = o.id
    if (o.time !== undefined) event.time = o.time instanceof Date ? o.time.toISOString() : o.time
    // sized later, by the sender: keeps JSON.stringify off the caller's path
    const q = new QueuedEvent(topic, event, o.signal)
    try {
      const blocked = this.producer.enqueue(q)
      if (blocked) return blocked.then(() => q.receipt)
    } catch (e) {
      return Promise.reject(e)
    }
    return q.receipt
  }

  /**
   * Batches that may await their receipts at once: the WebSocket keeps the order
   * of sends. One while there is no connection: the rest wait in the buffer, under
   * its overrun policy, not in batches no socket can carry.
   */
  protected maxInFlightBatches(): number {
    return this.session.isOpen ? this.inFlightLimit : 1
  }

  /** Whether the broker connected now takes publishes in columns (binary frames). */
  protected takesColumns(): boolean {
    return this.session.welcome?.features?.includes('publish-columns') === true
  }

  protected async sendBatch(
    topic: string,
    events: PublishEvent[],
    deadline: Deadline,
    encoded: EncodedBatch | undefined,
    { epoch, behind }: BatchOrder,
  ): Promise<BatchResult> {
    // a batch sent on a newer connection than the batches ahead of it could be stored before them
    if (behind && (this.session.connection === undefined || this.session.connection !== this.publishedOn)) {
      throw new QuestlogError(
        'out_of_order',
        'not sent: the connection the batches ahead of it went on is gone; it goes again after them',
      )
    }
    // serialized as the batch formed: spliced into the frame, not serialized again
    const json = encoded !== undefined && 'json' in encoded ? encoded.json : undefined
    // the deadline ends the wait for a connection and the wait for an answer that never comes
    const signal = deadline.signal()
    const frame = await this.session.request((id) => {
      this.publishedOn = this.session.connection
      // (a batch put in columns for a broker that takes them, sent after a reconnect to one that does not, goes as JSON)
      if (encoded !== undefined && 'columns' in encoded && this.takesColumns())
        return columnsFrame(id, topic, epoch, encoded)
      return json !== undefined
        ? `{"op":"publish","id":${id},"topic":${JSON.stringify(topic)},"epoch":${epoch},"receipts":"runs","events":${json}}`
        : { op: 'publish', id, topic, epoch, receipts: 'runs', events }
    }, signal)
    if (frame.op !== 'receipts') throw new ClientClosedError(`unexpected answer ${frame.op}`)
    // every event was named as its batch formed, so the receipts come as runs
    const receipts = frame.runs
      ? fromReceiptRuns(
          frame.runs,
          events.map((e) => e.id!),
        )
      : (frame.receipts ?? [])
    return frame.backpressure ? { receipts, backpressure: frame.backpressure } : { receipts }
  }
}

const noTransport: Transport = {
  connect: () => Promise.reject(new ClientClosedError('this client has no persistent connection')),
}

function prefixed(e: ValidationError, prefix: string): ValidationError {
  const cause = e.cause as Parameters<typeof validationErrorFromZod>[0]
  return validationErrorFromZod(cause, `${prefix}.data`)
}
