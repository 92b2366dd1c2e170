import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { type WebSocket, WebSocketServer } from 'ws'
import type { Presence, PresenceChange } from '../presence/presence'
import type { RpcRouter } from '../rpc/rpc-router'
import type { PeerFrame } from './peer-frames'
import { acceptPeer, dialPeer, Inbox, PeerLink } from './peer-link'
import type { BrokerRegistry } from './registry'

/** Presence changes per peer frame: a broker with many members tells a new link of them in pages. */
const PRESENCE_PAGE = 2000
/** …and about this many bytes, well under a link's largest message (QUESTLOG_MAX_BODY_BYTES, 16 MiB by default). */
const PRESENCE_PAGE_BYTES = 1024 * 1024

/** Handshakes under way at once: a flood of strangers on the peer endpoint costs no more. */
const MAX_HANDSHAKES = 32

export interface PeerLinksOptions {
  selfId: string
  registry: BrokerRegistry
  /** The secret the brokers of this database share (KeyStore.peerSecret). */
  secret: () => Buffer
  router: () => RpcRouter
  /** Presence members: this broker's are told to every link, the links' are kept by their link. */
  presence: Presence
  heartbeatMs: number
  deadAfterMs: number
  maxPayload: number
  log: Logger
}

/**
 * The links from this broker to every other live broker, one per pair (the broker whose id
 * sorts first dials, at the other's advertised URL): request/reply's transport across the
 * cluster. Both ends prove they hold the cluster's secret before a frame passes; each tells
 * the other its responders, and every change of them after.
 */
export class PeerLinks {
  private readonly links = new Map<string, PeerLink>()
  private readonly dialing = new Set<string>()
  private readonly wss: WebSocketServer
  private handshakes = 0
  private off: (() => void) | undefined
  private offPresence: (() => void) | undefined
  private stopped = false

  constructor(private readonly o: PeerLinksOptions) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: o.maxPayload })
  }

  /** Starts telling the linked brokers of this one's responders; before the first link, so none is missed. */
  start(): void {
    this.off = this.o.router().onLocalChange((change) => {
      for (const link of this.links.values()) link.send(change)
    })
    this.offPresence = this.o.presence.onLocalChange((changes) => {
      for (const link of this.links.values()) sendPresence(link, changes)
    })
  }

  /**
   * Dials live brokers not linked yet; each heartbeat. A link ends by itself (its socket closes,
   * or its pings go unanswered for the dead-after time), not because a heartbeat was late: the
   * link is the better witness of whether the other broker still answers.
   */
  sync(): void {
    if (this.stopped) return
    for (const b of this.o.registry.live()) {
      // one link per pair: the broker whose id sorts first dials
      if (b.id <= this.o.selfId || this.links.has(b.id) || this.dialing.has(b.id)) continue
      this.dialing.add(b.id)
      dialPeer(b.url, this.o.selfId, b.id, this.o.secret(), this.o.maxPayload)
        .then(({ ws, inbox }) => this.linked(ws, inbox, b.id))
        .catch((err) => this.o.log.debug({ err, peer: b.id, url: b.url }, 'peer link failed'))
        .finally(() => this.dialing.delete(b.id))
    }
  }

  /**
   * An upgrade on the peer endpoint. A browser (it sends Origin) is refused outright; anyone
   * else gets a challenge, and a connection that cannot answer it is closed without having
   * been able to send a single frame that counts.
   */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.stopped || req.headers.origin !== undefined) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    if (this.handshakes >= MAX_HANDSHAKES) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    this.handshakes++
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {})
      const inbox = new Inbox(ws)
      acceptPeer(ws, inbox, this.o.selfId, this.o.secret())
        .then((id) => this.linked(ws, inbox, id))
        .catch((err) => {
          this.o.log.warn(
            { err: (err as Error).message, from: req.socket.remoteAddress },
            'peer link refused',
          )
          ws.close(4401, 'not a broker of this cluster')
          setTimeout(() => ws.terminate(), 1000).unref()
        })
        .finally(() => this.handshakes--)
    })
  }

  /** How many brokers this one is linked to now. */
  get size(): number {
    return this.links.size
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.off?.()
    this.offPresence?.()
    for (const link of this.links.values()) link.close()
    this.wss.close()
  }

  private linked(ws: WebSocket, inbox: Inbox, id: string): void {
    if (this.stopped) {
      ws.terminate()
      return
    }
    const router = this.o.router()
    // one link per pair: a newer one (the other side restarted its dial) replaces the old
    this.links.get(id)?.close()
    const link = new PeerLink(ws, inbox, id)
    this.links.set(id, link)
    link.start(
      (frame) => this.onFrame(router, link, frame),
      () => {
        if (this.links.get(id) === link) this.links.delete(id)
        router.disconnect(link.peer)
        this.o.presence.dropOrigin(link)
      },
      { pingMs: this.o.heartbeatMs, deadMs: this.o.deadAfterMs },
    )
    link.send({ op: 'responders', list: router.localResponders().map((r) => [r.key, r.pattern]) })
    sendPresence(link, this.o.presence.localMembers())
  }

  private onFrame(router: RpcRouter, link: PeerLink, f: PeerFrame): void {
    const peer = link.peer
    switch (f.op) {
      case 'responders':
        for (const [key, pattern] of f.list) router.respond(peer, key, pattern)
        return
      case 'respond':
        router.respond(peer, f.key, f.pattern)
        return
      case 'unrespond':
        router.unrespond(peer, f.key)
        return
      case 'request':
        router.relay(peer, f.corr, f.key, {
          subject: f.subject,
          data: f.data,
          headers: f.headers,
          timeoutMs: f.timeoutMs,
        })
        return
      case 'reply':
      case 'error':
        try {
          const answer =
            f.op === 'reply'
              ? { data: f.data, headers: f.headers }
              : { error: { code: f.code, message: f.message, details: f.details } }
          router.reply(peer, f.corr, answer)
        } catch {
          // timed out or abandoned here meanwhile: nobody waits for it
        }
        return
      case 'gone':
        router.gone(peer, f.corr)
        return
      case 'presence':
        this.o.presence.apply(link, f.changes as PresenceChange[])
        return
    }
  }
}

/** Sends `changes` in frames of at most PRESENCE_PAGE changes and about PRESENCE_PAGE_BYTES. */
function sendPresence(link: PeerLink, changes: PresenceChange[]): void {
  let page: PresenceChange[] = []
  let bytes = 0
  for (const c of changes) {
    const size = 300 + (c.info === undefined ? 0 : JSON.stringify(c.info).length)
    if (page.length > 0 && (page.length >= PRESENCE_PAGE || bytes + size > PRESENCE_PAGE_BYTES)) {
      link.send({ op: 'presence', changes: page as never })
      page = []
      bytes = 0
    }
    page.push(c)
    bytes += size
  }
  if (page.length > 0) link.send({ op: 'presence', changes: page as never })
}
