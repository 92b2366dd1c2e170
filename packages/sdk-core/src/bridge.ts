import type { Receipt, SubscribeFrom } from '@questlog/protocol'
import { randomId } from './dedupe'
import type { LocalBus } from './local-bus'
import type { LocalEvent } from './local-event'
import type { LocalSubscription } from './local-subscription'
import type { EventSubscription, ReceivedEvent } from './subscription'
import { type TopicRef, topicName } from './topic'

/** What the bridge needs of a network client (both SDKs' `createClient` return one). */
export interface BridgeClient {
  publish(
    topic: string,
    data: unknown,
    options: {
      key?: string
      type?: string
      headers?: Record<string, string>
      dedupeKey?: string
      id?: string
    },
  ): Promise<Receipt>
  subscribe(
    topic: string,
    options: { group?: string; from?: SubscribeFrom; type?: string; ack?: 'manual' },
  ): EventSubscription<unknown>
}

/** A broker topic read into the local bus. */
export interface BridgeInbound {
  topic: TopicRef<unknown>
  /** Where the group starts the first time (default `latest`); later it resumes after its last ack. */
  from?: SubscribeFrom
  /** Only events whose type matches this subject pattern. */
  type?: string
}

export interface BridgeOptions {
  /** Local topics or patterns whose events are published to the broker, on the event's own topic. */
  toBroker?: TopicRef<unknown>[]
  /** Broker topics whose events are published on the local bus. */
  fromBroker?: Array<TopicRef<unknown> | BridgeInbound>
  /**
   * Names this bridge: its consumer group on the broker (acked positions kept, so a
   * restarted bridge resumes after the last event it handed on) and the header marking
   * what it carried, so that a topic bridged both ways is not echoed (default random).
   */
  name?: string
  /** Broker event ids remembered so that a redelivery (after a reconnect) is published locally once (default 100 000). */
  dedupeWindow?: number
  /** Gets a failed publish to the broker (after the client's own retries) or a failed local publish. */
  onError?: (error: unknown) => void
}

export interface BridgeStats {
  /** Local events stored on the broker (receipts received). */
  sent: number
  /** Local events handed to the client and not stored yet. */
  sending: number
  /** Local events the broker did not take (after the client's retries). */
  sendFailed: number
  /** Broker events published on the local bus. */
  received: number
  /** Broker events delivered again (after a reconnect) and not published twice. */
  duplicates: number
  /** Events skipped because this bridge carried them across already (a topic bridged both ways). */
  echoes: number
}

/** The header naming the bridge that carried an event across. */
export const BRIDGE_HEADER = 'questlog-bridge'

/** Forwards chosen topics between a local bus and a broker; see `bridge`. */
export class Bridge {
  readonly name: string
  private readonly local: LocalSubscription[] = []
  private readonly remote: EventSubscription<unknown>[] = []
  private readonly loops: Promise<void>[] = []
  private readonly inFlight = new Set<Promise<unknown>>()
  private readonly seen = new Set<string>()
  private readonly window: number
  private readonly onError: (error: unknown) => void
  private readonly counts = { sent: 0, sendFailed: 0, received: 0, duplicates: 0, echoes: 0 }
  private closing: Promise<void> | undefined

  constructor(
    private readonly bus: LocalBus,
    private readonly client: BridgeClient,
    o: BridgeOptions,
  ) {
    this.name = o.name ?? `bridge-${randomId()}`
    this.window = o.dedupeWindow ?? 100_000
    this.onError = o.onError ?? (() => {})
    for (const t of o.toBroker ?? []) {
      this.local.push(bus.subscribe(topicName(t), { onEvent: (ev) => this.send(ev) }))
    }
    for (const entry of o.fromBroker ?? []) {
      const inbound: BridgeInbound = typeof entry === 'object' && 'topic' in entry ? entry : { topic: entry }
      const sub = client.subscribe(topicName(inbound.topic), {
        group: this.name,
        from: inbound.from ?? 'latest',
        ack: 'manual',
        ...(inbound.type === undefined ? {} : { type: inbound.type }),
      })
      this.remote.push(sub)
      this.loops.push(this.receive(sub))
    }
  }

  stats(): BridgeStats {
    return { ...this.counts, sending: this.inFlight.size }
  }

  /** Resolves once every local event handed to the client so far is stored (or failed). */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
  }

  /** Stops forwarding: no new local events are taken, the broker subscriptions end, what was handed on is awaited. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const s of this.local) s.close()
      for (const s of this.remote) s.close()
      await Promise.allSettled(this.loops)
      await this.flush()
    })()
    return this.closing
  }

  private send(ev: LocalEvent): void {
    if (ev.headers[BRIDGE_HEADER] === this.name) {
      this.counts.echoes++
      return
    }
    // the client gives the event a dedupe key of its own: a batch retried across a reconnect is stored once
    const p = this.client
      .publish(ev.topic, ev.data, {
        id: ev.id,
        type: ev.type,
        headers: { ...ev.headers, [BRIDGE_HEADER]: this.name },
        ...(ev.key === null ? {} : { key: ev.key }),
        ...(ev.dedupeKey === null ? {} : { dedupeKey: ev.dedupeKey }),
      })
      .then(
        () => {
          this.counts.sent++
        },
        (e: unknown) => {
          this.counts.sendFailed++
          this.onError(e)
        },
      )
      .finally(() => this.inFlight.delete(p))
    this.inFlight.add(p)
  }

  private async receive(sub: EventSubscription<unknown>): Promise<void> {
    try {
      for await (const ev of sub) await this.takeIn(ev)
    } catch (e) {
      if (!this.closing) this.onError(e)
    }
  }

  private async takeIn(ev: ReceivedEvent<unknown>): Promise<void> {
    if (ev.headers[BRIDGE_HEADER] === this.name) {
      this.counts.echoes++
    } else if (this.seen.has(ev.id)) {
      this.counts.duplicates++
    } else {
      try {
        await this.bus.publish(ev.topic, ev.data, {
          id: ev.id,
          type: ev.type,
          partition: ev.partition,
          headers: { ...ev.headers, [BRIDGE_HEADER]: this.name },
          ...(ev.key === null ? {} : { key: ev.key }),
        })
      } catch (e) {
        // not handed on, so not acked: the group delivers it again after a reconnect
        this.onError(e)
        return
      }
      this.remember(ev.id)
      this.counts.received++
    }
    // the position is stored asynchronously; a lost ack means a redelivery, which `seen` absorbs
    ev.ack().catch(() => {})
  }

  private remember(id: string): void {
    this.seen.add(id)
    if (this.seen.size > this.window) {
      const oldest = this.seen.values().next().value
      if (oldest !== undefined) this.seen.delete(oldest)
    }
  }
}

/**
 * Forwards the local bus's `toBroker` topics to the broker, and the broker's
 * `fromBroker` topics onto the local bus, each event once: the client's dedupe
 * keys cover retries to the broker, the consumer group and a window of event ids
 * cover redeliveries from it.
 */
export function bridge(bus: LocalBus, client: BridgeClient, options: BridgeOptions): Bridge {
  return new Bridge(bus, client, options)
}
