import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import WebSocket from 'ws'
import type { RpcPeer } from '../rpc/responder-registry'
import { authFrame, challengeFrame, type PeerFrame, peerFrameSchema, readyFrame } from './peer-frames'

/** Where a broker takes peer links (WebSocket). */
export const PEER_PATH = '/v1/cluster'

/** Most bytes of a handshake frame: anything longer is not a broker. */
const HANDSHAKE_BYTES = 1024
const HANDSHAKE_MS = 5000

const nonce = () => randomBytes(32).toString('base64url')

/**
 * What one side proves: an HMAC, under the secret only this database's brokers hold, of the
 * other side's fresh nonce and both ids in the order of the roles. A proof answers one
 * challenge of one pair of brokers: nothing seen on the wire can be replayed.
 */
function prove(
  secret: Buffer,
  role: 'dial' | 'accept',
  theirNonce: string,
  from: string,
  to: string,
): string {
  return createHmac('sha256', secret)
    .update(`questlog-peer|${role}|${theirNonce}|${from}|${to}`)
    .digest('base64url')
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Frames the handshake may see queued before the link takes over: a broker sends one. */
const HANDSHAKE_QUEUE = 4

/**
 * Every message of a link from its first byte: ws emits the frames of one chunk synchronously,
 * so the frame after the handshake's last would be lost between listeners. The handshake takes
 * its frames from here, then the link drains what is left and goes on from it.
 */
export class Inbox {
  private readonly items: Array<{ data: Buffer; binary: boolean }> = []
  private wake: (() => void) | undefined
  private sink: ((data: Buffer, binary: boolean) => void) | undefined
  private closed = false

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw, binary) => {
      const data = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as ArrayBuffer)
      if (this.sink) return this.sink(data, binary)
      if (this.items.length >= HANDSHAKE_QUEUE) return ws.terminate()
      this.items.push({ data, binary })
      this.wake?.()
    })
    ws.once('close', () => {
      this.closed = true
      this.wake?.()
    })
  }

  /** The next handshake frame, parsed by `parse`; rejects on anything else, a close or `signal`. */
  async next<T>(parse: (v: unknown) => T, signal: AbortSignal): Promise<T> {
    while (this.items.length === 0) {
      if (this.closed) throw new Error('the link closed during the handshake')
      if (signal.aborted) throw new Error('the handshake timed out')
      await new Promise<void>((resolve) => {
        this.wake = resolve
        signal.addEventListener('abort', () => resolve(), { once: true })
      })
      this.wake = undefined
    }
    const { data, binary } = this.items.shift()!
    if (binary || data.length > HANDSHAKE_BYTES) throw new Error('not a handshake frame')
    return parse(JSON.parse(data.toString('utf8')))
  }

  /** Hands every frame from now on (and those queued) to `sink`. */
  drainTo(sink: (data: Buffer, binary: boolean) => void): void {
    this.sink = sink
    for (const i of this.items.splice(0)) sink(i.data, i.binary)
  }
}

/** Dials broker `expectId` at `url` and proves this broker to it; resolves once both sides proved. */
export async function dialPeer(
  url: string,
  selfId: string,
  expectId: string,
  secret: Buffer,
  maxPayload: number,
): Promise<{ ws: WebSocket; inbox: Inbox }> {
  const target = new URL(PEER_PATH, url)
  target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:'
  const ws = new WebSocket(target, { maxPayload, handshakeTimeout: HANDSHAKE_MS })
  ws.on('error', () => {})
  const inbox = new Inbox(ws)
  const signal = AbortSignal.timeout(HANDSHAKE_MS)
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
      ws.once('close', () => reject(new Error('closed before it opened')))
    })
    const challenge = await inbox.next((v) => challengeFrame.parse(v), signal)
    // the URL may belong to another broker by now (a restart on the same port)
    if (challenge.id !== expectId) throw new Error(`${url} is broker ${challenge.id}, not ${expectId}`)
    const mine = nonce()
    ws.send(
      JSON.stringify({
        op: 'auth',
        id: selfId,
        nonce: mine,
        proof: prove(secret, 'dial', challenge.nonce, selfId, expectId),
      }),
    )
    const answer = await inbox.next((v) => readyFrame.parse(v), signal)
    if (!same(answer.proof, prove(secret, 'accept', mine, expectId, selfId)))
      throw new Error(`broker ${expectId} did not prove it belongs to this cluster`)
    return { ws, inbox }
  } catch (e) {
    ws.terminate()
    throw e
  }
}

/** The accepting side of the handshake; resolves with the dialer's id once both sides proved. */
export async function acceptPeer(
  ws: WebSocket,
  inbox: Inbox,
  selfId: string,
  secret: Buffer,
): Promise<string> {
  const signal = AbortSignal.timeout(HANDSHAKE_MS)
  const mine = nonce()
  ws.send(JSON.stringify({ op: 'challenge', id: selfId, nonce: mine }))
  const a = await inbox.next((v) => authFrame.parse(v), signal)
  if (a.id === selfId || !same(a.proof, prove(secret, 'dial', mine, a.id, selfId))) {
    throw new Error('the dialer did not prove it is a broker of this cluster')
  }
  ws.send(JSON.stringify({ op: 'ready', proof: prove(secret, 'accept', a.nonce, selfId, a.id) }))
  return a.id
}

/**
 * One authenticated link to another broker, both ways: frames in go to `onFrame`, and `peer`
 * is the link as request/reply sees it (the other broker's responders hang on it, its
 * requesters wait behind it). A ping every `pingMs`; silence past `deadMs` cuts the link, as
 * does the other broker's death (its sockets close).
 */
export class PeerLink {
  readonly peer: RpcPeer
  private lastHeard = Date.now()
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly ws: WebSocket,
    private readonly inbox: Inbox,
    readonly brokerId: string,
  ) {
    this.peer = { remote: true, send: (frame) => this.forward(frame as Record<string, unknown>) }
  }

  /** Takes the frames (those queued since the handshake first) and starts the pings. */
  start(
    onFrame: (frame: PeerFrame) => void,
    onClose: () => void,
    opts: { pingMs: number; deadMs: number },
  ): void {
    const ws = this.ws
    this.inbox.drainTo((data, binary) => {
      this.lastHeard = Date.now()
      if (binary) return
      let frame: PeerFrame
      try {
        frame = peerFrameSchema.parse(JSON.parse(data.toString()))
      } catch {
        // a broker of another release, or a bug: the frame is dropped, the link kept
        return
      }
      onFrame(frame)
    })
    ws.on('pong', () => {
      this.lastHeard = Date.now()
    })
    ws.once('close', () => {
      clearInterval(this.timer)
      onClose()
    })
    // closed between the handshake and here: no close event is coming
    if (ws.readyState !== ws.OPEN) {
      onClose()
      return
    }
    this.timer = setInterval(() => {
      if (Date.now() - this.lastHeard > opts.deadMs) ws.terminate()
      else if (ws.readyState === ws.OPEN) ws.ping()
    }, opts.pingMs)
    this.timer.unref()
  }

  send(frame: PeerFrame): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(frame))
  }

  close(): void {
    this.ws.close(1001, 'broker stopping')
    setTimeout(() => this.ws.terminate(), 1000).unref()
  }

  /** A frame the router addressed to a client, said the way the other broker reads it. */
  private forward(f: Record<string, unknown>): void {
    const { op, id, to, rid, ...rest } = f
    switch (op) {
      case 'request':
        this.send({ op: 'request', corr: to as number, key: rid as string, ...rest } as PeerFrame)
        return
      case 'reply':
      case 'error':
      case 'gone':
        this.send({ op, corr: id as number, ...rest } as PeerFrame)
        return
    }
  }
}
