import { compileSubjectPattern } from '@questlog/protocol'

/** A connection that can take requests and receive replies (a WebSocket client, or a link to another broker). */
export interface RpcPeer {
  /** Sends one frame to the client; dropped when the connection is gone. */
  send(frame: object): void
  /** Set on a link to another broker: its responders are that broker's, named by their keys there. */
  readonly remote?: true
}

/** One `respond` registration: a peer answering requests whose subject matches `pattern`. */
export interface Responder {
  peer: RpcPeer
  rid: string
  /** Its name across the cluster: unique on its broker (a remote one's `rid` is its key). */
  key: string
  pattern: string
  matches: (subject: string) => boolean
  /** When it was last handed a request; the least recent goes next (round-robin). */
  lastTurn: number
}

/** Who answers which subjects, and whose turn it is. */
export class ResponderRegistry {
  private readonly byPeer = new Map<RpcPeer, Map<string, Responder>>()
  private turn = 0

  /** Registers (or re-registers, replacing the pattern) responder `rid` of `peer`. */
  add(peer: RpcPeer, rid: string, pattern: string, key: string = rid): Responder {
    let mine = this.byPeer.get(peer)
    if (!mine) {
      mine = new Map()
      this.byPeer.set(peer, mine)
    }
    // a new responder goes first: it starts at the back of nobody's queue
    const r: Responder = { peer, rid, key, pattern, matches: compileSubjectPattern(pattern), lastTurn: 0 }
    mine.set(rid, r)
    return r
  }

  remove(peer: RpcPeer, rid: string): Responder | undefined {
    const mine = this.byPeer.get(peer)
    const r = mine?.get(rid)
    mine?.delete(rid)
    if (mine?.size === 0) this.byPeer.delete(peer)
    return r
  }

  /** Removes every responder of `peer`; returns them. */
  removePeer(peer: RpcPeer): Responder[] {
    const mine = this.byPeer.get(peer)
    this.byPeer.delete(peer)
    return mine ? [...mine.values()] : []
  }

  isLive(r: Responder): boolean {
    return this.byPeer.get(r.peer)?.get(r.rid) === r
  }

  /**
   * The responder for `subject` whose turn it is, skipping `except`. One peer with
   * two matching registrations counts once per registration, as NATS queue groups do.
   */
  pick(subject: string, except?: ReadonlySet<Responder>): Responder | undefined {
    let best: Responder | undefined
    for (const mine of this.byPeer.values()) {
      for (const r of mine.values()) {
        if (except?.has(r) || !r.matches(subject)) continue
        if (!best || r.lastTurn < best.lastTurn) best = r
      }
    }
    if (best) best.lastTurn = ++this.turn
    return best
  }

  get size(): number {
    let n = 0
    for (const mine of this.byPeer.values()) n += mine.size
    return n
  }
}
