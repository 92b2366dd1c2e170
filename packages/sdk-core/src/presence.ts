import {
  isQuestlogError,
  type PresenceDeltaFrame,
  type PresenceMember,
  type PresenceSnapshotFrame,
  type QuestlogError,
} from '@questlog/protocol'
import { randomId } from './dedupe'
import { ClientClosedError, ConnectionLostError } from './errors'
import type { Session, SessionPresence } from './session'

export interface PresenceOptions {
  /** This client's member id on the channel (a player id); a random one per `presence()` call by default. */
  member?: string
  /**
   * The member leaves this long after its connection was last heard from: a client killed
   * without leaving is gone within it (default 15 000, at least 1 000). The SDK pings at a third of it.
   */
  ttlMs?: number
}

/** One member of a channel: `id` as it entered, from `connection` (one id may be on several). */
export interface PresenceMemberOf<Info> {
  id: string
  connection: string
  info: Info | undefined
}

/** A change of a channel's members; `leave` carries the member as it was last seen. */
export interface PresenceChange<Info> {
  type: 'join' | 'update' | 'leave'
  member: PresenceMemberOf<Info>
}

const DEFAULT_TTL_MS = 15_000

const keyOf = (m: { id: string; connection: string }) => `${m.connection}/${m.id}`
const sameInfo = (a: PresenceMember, b: PresenceMember) => JSON.stringify(a.info) === JSON.stringify(b.info)

/**
 * Who is on a presence channel (a lobby, a match): enter it as one member, watch its members.
 * The broker sends one snapshot, then coalesced deltas; the view here follows them, and after
 * a reconnect a fresh snapshot is compared with it so iterators see only what really changed.
 * An entered member enters again on every reconnect, on whichever broker the client is.
 *
 * ```ts
 * const lobby = bus.presence<{ name: string }>('lobby.eu', { member: playerId })
 * await lobby.enter({ name: 'Ann' })
 * console.log(await lobby.members())
 * for await (const change of lobby) console.log(change.type, change.member.id)
 * ```
 */
export class PresenceChannel<Info = unknown> implements SessionPresence, AsyncIterable<PresenceChange<Info>> {
  readonly member: string
  private readonly ttlMs: number
  private entered: { info: Info | undefined } | undefined
  private watching = false
  private readonly view = new Map<string, PresenceMember>()
  /** Snapshot pages gathered until the last one. */
  private incoming: Map<string, PresenceMember> | undefined
  private readonly synced: Promise<void>
  private settleSynced: { resolve: () => void; reject: (e: Error) => void } | undefined
  private readonly queues = new Set<ChangeQueue<Info>>()
  private beat: ReturnType<typeof setInterval> | undefined
  private ended: Error | undefined
  private quiet = false
  private closed = false

  constructor(
    private readonly session: Session,
    private readonly sid: string,
    readonly channel: string,
    o: PresenceOptions = {},
  ) {
    this.member = o.member ?? randomId()
    this.ttlMs = o.ttlMs ?? DEFAULT_TTL_MS
    this.synced = new Promise((resolve, reject) => {
      this.settleSynced = { resolve, reject }
    })
    this.synced.catch(() => {})
    // a client closed on purpose ends the iterators quietly; a fatal error ends them with it
    void session.status.closed().then((e) => this.end(e ?? new ClientClosedError(), e === undefined))
    session.addPresence(sid, this)
  }

  /** Enters the channel as `member` with `info` (what others see of it); resolves once the broker has it. */
  async enter(info?: Info): Promise<void> {
    this.usable()
    this.entered = { info }
    this.startBeat()
    await this.untilDone('enter')
  }

  /** Changes what others see of this member. */
  async update(info: Info): Promise<void> {
    this.usable()
    if (!this.entered) return this.enter(info)
    this.entered = { info }
    await this.untilDone('update')
  }

  /** Leaves the channel (watching goes on). */
  async leave(): Promise<void> {
    if (!this.entered) return
    this.entered = undefined
    this.stopBeat()
    if (!this.session.isOpen) return // the broker dropped the member with the connection
    try {
      await this.session.request((id) => ({
        op: 'presence',
        id,
        action: 'leave',
        channel: this.channel,
        member: this.member,
      }))
    } catch (e) {
      // a lost connection (or a closed client) took the member with it
      if (!isQuestlogError(e) || e.code !== 'unavailable') throw e
    }
  }

  /** The channel's members: starts watching, and resolves once the snapshot is in. */
  async members(): Promise<Array<PresenceMemberOf<Info>>> {
    this.watch()
    await this.synced
    return [...this.view.values()].map((m) => toMember<Info>(m))
  }

  /**
   * Changes of the members after the first snapshot (which `members()` answers), coalesced while
   * the loop is busy; after a reconnect, what differs from the view before it.
   */
  [Symbol.asyncIterator](): AsyncIterator<PresenceChange<Info>> {
    this.watch()
    const q = new ChangeQueue<Info>(() => this.queues.delete(q))
    if (this.ended) q.end(this.quiet ? undefined : this.ended)
    else this.queues.add(q)
    return q
  }

  /** Leaves and stops watching. */
  async close(): Promise<void> {
    if (this.closed) return
    await this.leave().catch(() => {})
    if (this.watching) this.session.send({ op: 'unsubscribe', sid: this.sid })
    this.closed = true
    this.session.removePresence(this.sid)
    this.end(new ClientClosedError('the presence channel was closed'), true)
  }

  onOpen(session: Session): void {
    if (this.entered) session.request((id) => this.enterFrame(id, 'enter')).catch(() => {})
    if (this.watching) session.send({ op: 'presence_watch', sid: this.sid, channel: this.channel })
  }

  onSnapshot(f: PresenceSnapshotFrame): void {
    this.incoming ??= new Map()
    for (const m of f.members) this.incoming.set(keyOf(m), m)
    if (!f.done) return
    const next = this.incoming
    this.incoming = undefined
    if (this.settleSynced) {
      // the first snapshot is what members() answers; changes are what comes after it
      for (const [key, m] of next) this.view.set(key, m)
      this.settleSynced.resolve()
      this.settleSynced = undefined
      return
    }
    // after a reconnect: only the difference is news
    for (const key of this.view.keys()) if (!next.has(key)) this.change(key, null)
    for (const [key, m] of next) {
      const before = this.view.get(key)
      if (!before || !sameInfo(before, m)) this.change(key, m)
    }
  }

  onDelta(f: PresenceDeltaFrame): void {
    for (const m of f.joins) this.change(keyOf(m), m)
    for (const m of f.updates) this.change(keyOf(m), m)
    for (const r of f.leaves) this.change(keyOf(r), null)
  }

  onError(error: QuestlogError): void {
    this.end(error)
  }

  private change(key: string, m: PresenceMember | null): void {
    const before = this.view.get(key)
    if (m) this.view.set(key, m)
    else if (before) this.view.delete(key)
    else return
    const last = (m ?? before)!
    for (const q of this.queues) q.note(key, before !== undefined, m, last)
  }

  private watch(): void {
    if (this.watching || this.closed) return
    this.watching = true
    this.session.send({ op: 'presence_watch', sid: this.sid, channel: this.channel })
  }

  private enterFrame(id: number, action: 'enter' | 'update') {
    const frame = {
      op: 'presence' as const,
      id,
      action,
      channel: this.channel,
      member: this.member,
      ...(action === 'enter' ? { ttlMs: this.ttlMs } : {}),
    }
    const info = this.entered?.info
    return info === undefined ? frame : { ...frame, info: info as never }
  }

  /**
   * Sends an enter or update until the broker has it: a connection lost meanwhile (a move to
   * another broker) is no failure, the next connection carries it.
   */
  private async untilDone(action: 'enter' | 'update'): Promise<void> {
    // a retry is an enter: on a new connection the member is entered again anyway (onOpen)
    for (let first = true; ; first = false) {
      try {
        await this.session.request((id) => this.enterFrame(id, first ? action : 'enter'))
        return
      } catch (e) {
        if (!isQuestlogError(e) || e.name !== 'ConnectionLostError' || !this.entered || this.ended) throw e
        if (!this.willReconnect())
          throw new ConnectionLostError('presence needs a WebSocket connection, and this client has none', e)
      }
    }
  }

  /** Whether the session opens a connection again (not closed, and not fallen back to SSE). */
  private willReconnect(): boolean {
    const state = this.session.status.get().state
    return state === 'connecting' || state === 'reconnecting' || (state === 'open' && this.session.isOpen)
  }

  /** Keeps the connection heard from while a member is on it, whatever else is quiet. */
  private startBeat(): void {
    if (this.beat !== undefined) return
    this.beat = setInterval(
      () => this.session.send({ op: 'ping', t: Date.now() }),
      Math.max(250, this.ttlMs / 3),
    )
    ;(this.beat as { unref?: () => void }).unref?.()
  }

  private stopBeat(): void {
    clearInterval(this.beat)
    this.beat = undefined
  }

  private usable(): void {
    if (this.closed || this.ended) throw this.ended ?? new ClientClosedError()
  }

  /** Ends the channel: `quiet` (closed on purpose) finishes the iterators, else they throw `error`. */
  private end(error: Error, quiet = false): void {
    if (this.ended) return
    this.ended = error
    this.quiet = quiet
    this.stopBeat()
    this.settleSynced?.reject(error)
    this.settleSynced = undefined
    for (const q of this.queues) q.end(quiet ? undefined : error)
    this.queues.clear()
  }
}

function toMember<Info>(m: PresenceMember): PresenceMemberOf<Info> {
  return { id: m.id, connection: m.connection, info: m.info as Info | undefined }
}

interface Pending {
  /** Whether the reader knew the member before the first change gathered here. */
  had: boolean
  /** The member now; null once it left. */
  now: PresenceMember | null
  last: PresenceMember
}

/**
 * One reader's changes not yet taken, by member: bounded by the channel's size whatever the
 * churn. A member that came and went before the reader looked is not reported at all.
 */
class ChangeQueue<Info> implements AsyncIterator<PresenceChange<Info>> {
  private readonly pending = new Map<string, Pending>()
  private wake: (() => void) | undefined
  private done = false
  private error: Error | undefined

  constructor(private readonly detach: () => void) {}

  note(key: string, had: boolean, now: PresenceMember | null, last: PresenceMember): void {
    const p = this.pending.get(key)
    if (p) {
      p.now = now
      p.last = last
    } else this.pending.set(key, { had, now, last })
    this.wake?.()
  }

  end(error?: Error): void {
    this.done = true
    this.error = error
    this.wake?.()
  }

  async next(): Promise<IteratorResult<PresenceChange<Info>>> {
    for (;;) {
      for (const [key, p] of this.pending) {
        this.pending.delete(key)
        const member = toMember<Info>(p.now ?? p.last)
        if (p.now) return { done: false, value: { type: p.had ? 'update' : 'join', member } }
        if (p.had) return { done: false, value: { type: 'leave', member } }
      }
      if (this.done) {
        if (this.error) throw this.error
        return { done: true, value: undefined }
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve
      })
      this.wake = undefined
    }
  }

  async return(): Promise<IteratorResult<PresenceChange<Info>>> {
    this.done = true
    this.detach()
    return { done: true, value: undefined }
  }
}
