import { NoRespondersError, NotFoundError, type QuestlogError, TimeoutError } from '@questlog/protocol'
import { type Responder, ResponderRegistry, type RpcPeer } from './responder-registry'

export type { RpcPeer } from './responder-registry'

/** What a requester asked. */
export interface RpcCall {
  subject: string
  data?: unknown
  headers?: Record<string, string> | undefined
  timeoutMs: number
}

/** A reply as the responder sent it. */
export interface RpcAnswer {
  data?: unknown
  headers?: Record<string, string> | undefined
  error?: { code: string; message: string; details?: Record<string, unknown> | undefined } | undefined
}

/** A local responder came or went: what the other brokers must hear to route to it. */
export type ResponderChange =
  | { op: 'respond'; key: string; pattern: string }
  | { op: 'unrespond'; key: string }

interface InFlight {
  requester: RpcPeer
  /** The requester's own id of the request, echoed in the reply. */
  id: number
  call: RpcCall
  deadline: number
  responder: Responder
  /** Responders that were handed this request already (a retry goes elsewhere). */
  tried: Set<Responder>
  /** Asked by another broker for one responder here: if that one goes, the asking broker picks again. */
  relay: boolean
  timer: NodeJS.Timeout
}

/**
 * Request/reply: requests go to exactly one responder of their subject, in turn,
 * among this broker's responders and those the other brokers announced (their
 * links are peers whose responders carry the remote keys). Each routed request
 * gets a correlation id, and only the connection that received it may answer;
 * a reply goes back the way the request came. Requests are not stored: a broker
 * restart fails them (the requester's connection drops with it).
 */
export class RpcRouter {
  readonly responders = new ResponderRegistry()
  private readonly inFlight = new Map<number, InFlight>()
  /** This broker's own responders by key, for requests relayed from other brokers. */
  private readonly local = new Map<string, Responder>()
  private readonly serials = new WeakMap<RpcPeer, number>()
  private readonly listeners = new Set<(change: ResponderChange) => void>()
  private nextCorrelation = 1
  private nextSerial = 1

  /** Routes a request; `NoRespondersError` at once when nobody answers its subject anywhere. */
  request(requester: RpcPeer, id: number, call: RpcCall): void {
    const responder = this.responders.pick(call.subject)
    if (!responder) throw new NoRespondersError(call.subject)
    this.start(requester, id, call, responder, false)
  }

  /**
   * A request another broker routed to this broker's responder `key`. When that responder is
   * gone meanwhile, the asking broker is told (`gone`) and picks another.
   */
  relay(from: RpcPeer, corr: number, key: string, call: RpcCall): void {
    const responder = this.local.get(key)
    if (!responder || !this.responders.isLive(responder)) {
      from.send({ op: 'gone', id: corr })
      return
    }
    this.start(from, corr, call, responder, true)
  }

  /** A reply to request `to`; refused unless `from` holds that request. */
  reply(from: RpcPeer, to: number, answer: RpcAnswer): void {
    const f = this.inFlight.get(to)
    if (!f || f.responder.peer !== from) {
      throw new NotFoundError(
        `request ${to} awaits no reply from this connection (already answered, timed out, or never sent to it)`,
        { to },
      )
    }
    this.settle(to, f)
    if (answer.error) {
      const error: Record<string, unknown> = { op: 'error', id: f.id, ...answer.error }
      f.requester.send(error)
      return
    }
    const frame: Record<string, unknown> = { op: 'reply', id: f.id }
    if (answer.data !== undefined) frame.data = answer.data
    if (answer.headers !== undefined) frame.headers = answer.headers
    f.requester.send(frame)
  }

  /** The broker behind `from` no longer has the responder request `corr` went to: try another. */
  gone(from: RpcPeer, corr: number): void {
    const f = this.inFlight.get(corr)
    if (f && f.responder.peer === from) this.retry(corr, f)
  }

  respond(peer: RpcPeer, rid: string, pattern: string): void {
    if (peer.remote) {
      this.responders.add(peer, rid, pattern)
      return
    }
    let serial = this.serials.get(peer)
    if (serial === undefined) {
      serial = this.nextSerial++
      this.serials.set(peer, serial)
    }
    const r = this.responders.add(peer, rid, pattern, `${serial}/${rid}`)
    this.local.set(r.key, r)
    this.emit({ op: 'respond', key: r.key, pattern })
  }

  /** Stops routing to a responder; requests it holds can still be answered by its connection. */
  unrespond(peer: RpcPeer, rid: string): void {
    const r = this.responders.remove(peer, rid)
    if (r && !peer.remote) this.forget(r)
  }

  /**
   * A connection (or another broker's link) went away. Requests it made are
   * dropped (nobody is left to tell); requests it held move to another
   * responder at once, or fail with NoResponders, rather than waiting for their
   * timeout; a relayed one goes back to the broker that asked, to pick again.
   */
  disconnect(peer: RpcPeer): void {
    for (const r of this.responders.removePeer(peer)) if (!peer.remote) this.forget(r)
    for (const [corr, f] of this.inFlight) {
      if (f.requester === peer) this.settle(corr, f)
      else if (f.responder.peer === peer) {
        if (f.relay) {
          this.settle(corr, f)
          f.requester.send({ op: 'gone', id: f.id })
        } else this.retry(corr, f)
      }
    }
  }

  /** This broker's responders, for a broker that just linked up. */
  localResponders(): Array<{ key: string; pattern: string }> {
    return [...this.local.values()].map((r) => ({ key: r.key, pattern: r.pattern }))
  }

  /** Hears every change of this broker's own responders; returns the function that stops it. */
  onLocalChange(listener: (change: ResponderChange) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Requests waiting for a reply. */
  get pending(): number {
    return this.inFlight.size
  }

  private start(requester: RpcPeer, id: number, call: RpcCall, responder: Responder, relay: boolean): void {
    const corr = this.nextCorrelation++
    const f: InFlight = {
      requester,
      id,
      call,
      deadline: Date.now() + call.timeoutMs,
      responder,
      tried: new Set([responder]),
      relay,
      timer: setTimeout(() => this.expire(corr), call.timeoutMs),
    }
    // a pending request must not keep a stopping broker alive
    f.timer.unref()
    this.inFlight.set(corr, f)
    this.deliver(corr, f)
  }

  private forget(r: Responder): void {
    if (this.local.get(r.key) !== r) return
    this.local.delete(r.key)
    this.emit({ op: 'unrespond', key: r.key })
  }

  private emit(change: ResponderChange): void {
    for (const l of this.listeners) l(change)
  }

  private retry(corr: number, f: InFlight): void {
    const next = this.responders.pick(f.call.subject, f.tried)
    if (!next) {
      this.fail(corr, f, new NoRespondersError(f.call.subject))
      return
    }
    f.responder = next
    f.tried.add(next)
    this.deliver(corr, f)
  }

  private deliver(corr: number, f: InFlight): void {
    const frame: Record<string, unknown> = {
      op: 'request',
      rid: f.responder.rid,
      to: corr,
      subject: f.call.subject,
      timeoutMs: Math.max(0, f.deadline - Date.now()),
    }
    if (f.call.data !== undefined) frame.data = f.call.data
    if (f.call.headers !== undefined) frame.headers = f.call.headers
    f.responder.peer.send(frame)
  }

  private expire(corr: number): void {
    const f = this.inFlight.get(corr)
    if (!f) return
    const ms = f.call.timeoutMs
    this.fail(corr, f, new TimeoutError(`no reply to '${f.call.subject}' within ${ms} ms`, ms))
  }

  private fail(corr: number, f: InFlight, e: QuestlogError): void {
    this.settle(corr, f)
    const frame: Record<string, unknown> = { op: 'error', id: f.id, code: e.code, message: e.message }
    if (e.details !== undefined) frame.details = e.details
    f.requester.send(frame)
  }

  private settle(corr: number, f: InFlight): void {
    clearTimeout(f.timer)
    this.inFlight.delete(corr)
  }
}

const routers = new WeakMap<object, RpcRouter>()

/** The router of one broker (keyed by its services object). */
export function rpcRouterOf(owner: object): RpcRouter {
  let r = routers.get(owner)
  if (!r) {
    r = new RpcRouter()
    routers.set(owner, r)
  }
  return r
}
