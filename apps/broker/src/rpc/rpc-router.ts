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

interface InFlight {
  requester: RpcPeer
  /** The requester's own id of the request, echoed in the reply. */
  id: number
  call: RpcCall
  deadline: number
  responder: Responder
  /** Responders that were handed this request already (a retry goes elsewhere). */
  tried: Set<Responder>
  timer: NodeJS.Timeout
}

/**
 * Request/reply on one broker: requests go to exactly one responder of their
 * subject, in turn; each routed request gets a correlation id, and only the
 * connection that received it may answer. Replies go straight back to the
 * requesting connection. Requests are not stored: a broker restart fails them
 * (the requester's connection drops with it).
 */
export class RpcRouter {
  readonly responders = new ResponderRegistry()
  private readonly inFlight = new Map<number, InFlight>()
  private nextCorrelation = 1

  /** Routes a request; `NoRespondersError` at once when nobody answers its subject. */
  request(requester: RpcPeer, id: number, call: RpcCall): void {
    const responder = this.responders.pick(call.subject)
    if (!responder) throw new NoRespondersError(call.subject)
    const corr = this.nextCorrelation++
    const f: InFlight = {
      requester,
      id,
      call,
      deadline: Date.now() + call.timeoutMs,
      responder,
      tried: new Set([responder]),
      timer: setTimeout(() => this.expire(corr), call.timeoutMs),
    }
    // a pending request must not keep a stopping broker alive
    f.timer.unref()
    this.inFlight.set(corr, f)
    this.deliver(corr, f)
  }

  /** A responder's reply to request `to`; refused unless this peer holds that request. */
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

  respond(peer: RpcPeer, rid: string, pattern: string): void {
    this.responders.add(peer, rid, pattern)
  }

  /** Stops routing to a responder; requests it holds can still be answered by its connection. */
  unrespond(peer: RpcPeer, rid: string): void {
    this.responders.remove(peer, rid)
  }

  /**
   * A connection went away. Requests it made are dropped (nobody is left to
   * tell); requests it held move to another responder at once, or fail with
   * NoResponders, rather than waiting for their timeout.
   */
  disconnect(peer: RpcPeer): void {
    this.responders.removePeer(peer)
    for (const [corr, f] of this.inFlight) {
      if (f.requester === peer) this.settle(corr, f)
      else if (f.responder.peer === peer) this.retry(corr, f)
    }
  }

  /** Requests waiting for a reply. */
  get pending(): number {
    return this.inFlight.size
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
