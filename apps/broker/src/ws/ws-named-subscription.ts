import { randomBytes } from 'node:crypto'
import { type ClientFrame, ValidationError } from '@questlog/protocol'
import type { Delivery } from '../delivery/delivery'
import type { Subscription } from '../delivery/subscriptions'
import { envelopeJson } from '../read/envelope-json'
import type { Services } from '../services'
import { unavailableCode } from '../storage/db-errors'
import type { FrameSink } from './ws-subscription'

export type SettleFrame = Extract<ClientFrame, { op: 'ack' | 'nak' | 'term' }>

export interface WsNamedSubscriptionOptions {
  sid: string
  subscription: Subscription
  credits: number
  /** Pulling failed for good (the subscription was deleted). */
  onEnd: (error: unknown) => void
}

/** How long one pull waits for events; stream members also heartbeat at this pace. */
const PULL_WAIT_MS = 1000
const MAX_PULL = 500
/** Longest wait between pulls while the database is unavailable. */
const MAX_RETRY_MS = 2000

/**
 * A WebSocket consumer of a named subscription: the connection is one member
 * (its own member id), deliveries come from the broker's DeliveryService, at
 * most `credits` un-settled at once, and acks, naks and terms name the tokens.
 * Queue mode redelivers what is not acked in time; stream mode divides the
 * partitions among the live members.
 */
export class WsNamedSubscription {
  readonly member = `ws-${randomBytes(6).toString('base64url')}`
  private credits: number
  /** Tokens sent and not settled, with when their ack wait runs out (queue mode). */
  private readonly outstanding = new Map<string, number>()
  private stopped = false
  private readonly abort = new AbortController()
  private wakeLoop: (() => void) | undefined
  private running: Promise<void> = Promise.resolve()

  constructor(
    private readonly s: Services,
    private readonly out: FrameSink,
    private readonly o: WsNamedSubscriptionOptions,
  ) {
    this.credits = o.credits
  }

  start(): void {
    this.running = this.loop().catch((e) => {
      if (!this.stopped) this.o.onEnd(e)
    })
  }

  /** Stops pulling. Queue deliveries still held go back at once; a stream member leaves its group. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.abort.abort()
    this.wake()
    // a pull in progress would hand out more, or heartbeat the member back in
    await this.running
    const name = this.o.subscription.name
    if (this.o.subscription.ordering === 'key') {
      // the client may still be processing what it holds (a dropped connection, not a stop of the
      // consumer): handing it to another member now would run two events of a key at once. It stays
      // the client's until settled, over any connection, or until its ack wait runs out.
      this.outstanding.clear()
    } else if (this.o.subscription.mode === 'queue') {
      const held = [...this.outstanding.keys()]
      this.outstanding.clear()
      await Promise.all(held.map((t) => this.s.delivery.nak(name, t, 0).catch(() => {})))
    } else {
      // the group rebalances now rather than after the session timeout
      await this.s.sql`
        DELETE FROM ql_sub_members WHERE subscription_id = ${this.o.subscription.id} AND member = ${this.member}`.catch(
        () => {},
      )
    }
  }

  setCredits(n: number): void {
    this.credits = n
    this.wake()
  }

  /** An ack, nak or term frame naming delivery tokens. */
  settle(frame: SettleFrame): Promise<void> {
    if (frame.op === 'ack') {
      if (frame.tokens) return this.ack(frame.tokens)
      return Promise.reject(
        new ValidationError([{ path: 'tokens', message: 'ack a named subscription by token' }]),
      )
    }
    if (frame.token === undefined)
      return Promise.reject(new ValidationError([{ path: 'token', message: 'name the delivery token' }]))
    if (frame.op === 'nak') return this.nak(frame.token, frame.delayMs)
    return this.term(frame.token, frame.reason ?? 'terminated by the consumer')
  }

  // A settlement frees the delivery's credit whether it succeeds or is refused: a refused one
  // (attempt_expired after a rebalance or an ack wait) is no longer this member's to settle, and a
  // credit kept for it would never come back, leaving the member's own partitions unread.

  async ack(tokens: string[]): Promise<void> {
    try {
      await this.s.delivery.ack(this.o.subscription.name, tokens)
    } finally {
      this.forget(tokens)
    }
  }

  async nak(token: string, delayMs: number | undefined): Promise<void> {
    try {
      await this.s.delivery.nak(this.o.subscription.name, token, delayMs)
    } finally {
      this.forget([token])
    }
  }

  async term(token: string, reason: string): Promise<void> {
    try {
      await this.s.delivery.term(this.o.subscription.name, token, reason)
    } finally {
      this.forget([token])
    }
  }

  private forget(tokens: string[]): void {
    for (const t of tokens) this.outstanding.delete(t)
    this.wake()
  }

  private room(): number {
    // a queue delivery whose ack wait ran out is the broker's again: it no longer holds a credit
    const now = Date.now()
    for (const [t, until] of this.outstanding) if (until <= now) this.outstanding.delete(t)
    return this.credits - this.outstanding.size
  }

  private async loop(): Promise<void> {
    let failures = 0
    while (!this.stopped) {
      try {
        await this.step()
        failures = 0
      } catch (e) {
        // the database being away (restarting, a wedged connection replaced) ends no member: it
        // pulls again shortly; anything else (the subscription was deleted) ends it
        if (unavailableCode(e) === undefined || this.stopped) throw e
        await this.pause(Math.min(MAX_RETRY_MS, 50 * 2 ** failures++))
      }
    }
  }

  /** One pull, or a heartbeat while the member has no room. */
  private async step(): Promise<void> {
    const sub = this.o.subscription
    const room = this.room()
    if (room <= 0 || this.out.congested()) {
      if (sub.mode === 'stream') await this.s.delivery.group.heartbeat(sub, this.member)
      await this.pause(PULL_WAIT_MS)
      if (this.out.congested()) await this.out.drained()
      return
    }
    const got = await this.s.delivery.pull(
      sub.name,
      this.member,
      Math.min(room, MAX_PULL),
      PULL_WAIT_MS,
      this.abort.signal,
      // one pull is one frame
      this.s.config.maxReadBytes,
    )
    if (this.stopped) {
      // handed out after the stop began: `stop` gives them straight back
      for (const d of got) this.outstanding.set(d.token, Number.POSITIVE_INFINITY)
      return
    }
    if (got.length > 0) this.push(got)
  }

  private push(list: Delivery[]): void {
    const until = this.o.subscription.mode === 'queue' ? Date.now() + this.o.subscription.ackWaitMs : Infinity
    const items = list.map((d) => {
      this.outstanding.set(d.token, until)
      const redelivery = d.deliveries > 1 ? `,"redelivery":${d.deliveries - 1}` : ''
      return `{"event":${envelopeJson(d.topic, d.event)},"cursor":"","token":${JSON.stringify(d.token)}${redelivery}}`
    })
    const perTopic = new Map<string, number>()
    for (const d of list) perTopic.set(d.topic, (perTopic.get(d.topic) ?? 0) + 1)
    for (const [topic, n] of perTopic) this.s.metrics.eventsOut.inc({ topic }, n)
    this.out.send(`{"op":"events","sid":${JSON.stringify(this.o.sid)},"events":[${items.join(',')}]}`)
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.wakeLoop = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  private wake(): void {
    const w = this.wakeLoop
    this.wakeLoop = undefined
    w?.()
  }
}
