import { randomBytes } from 'node:crypto'
import {
  BadRequestError,
  PayloadTooLargeError,
  type PresenceFrame,
  type PresenceMember,
  type PresenceWatchFrame,
  QuestlogError,
} from '@questlog/protocol'
import { type Principal, requireTopic } from '../auth/principal'
import type { BrokerConfig } from '../config'
import { LOCAL, memberKey, type Presence, type PresenceHolder } from '../presence/presence'
import { PresenceWatcher } from '../presence/presence-watcher'

export interface WsPresenceOptions {
  presence: Presence
  config: BrokerConfig
  principal: () => Principal
  send: (frame: object) => void
  congested: () => boolean
  /** Members lapsed because the connection went silent: the client should reconnect (and enter again). */
  lapsed: () => void
}

interface Held {
  channel: string
  id: string
  ttlMs: number
}

/**
 * The presence of one WebSocket connection: the members it entered and the channels it watches.
 * Its members leave when it closes, or when it has been silent (no frame at all) for longer than
 * a member's TTL: a half-open connection, a frozen client, a browser tab put to sleep. The SDKs
 * send a ping at a third of the TTL while they have members, so only a client that is gone lapses.
 */
export class WsPresence implements PresenceHolder {
  /** This connection's name in members' identities: opaque, unique across the cluster. */
  readonly connection = randomBytes(9).toString('base64url')
  private readonly held = new Map<string, Held>()
  private readonly watches = new Map<string, { watcher: PresenceWatcher; off: () => void }>()
  private heardAt = Date.now()

  constructor(private readonly o: WsPresenceOptions) {}

  /** A frame came in: the connection is alive. */
  heard(): void {
    this.heardAt = Date.now()
  }

  handle(f: PresenceFrame): void {
    requireTopic(this.o.principal(), 'presence', f.channel)
    const key = memberKey(f.channel, f.member)
    const { config } = this.o
    if (f.action === 'leave') {
      this.held.delete(key)
      this.o.presence.remove(LOCAL, f.channel, this.connection, f.member)
      if (this.held.size === 0) this.o.presence.untrack(this)
    } else {
      const known = this.held.get(key)
      if (f.action === 'update' && !known)
        throw new BadRequestError(
          `'${f.member}' has not entered '${f.channel}' on this connection; enter first`,
          {
            details: { channel: f.channel, member: f.member },
          },
        )
      if (!known && this.held.size >= config.presenceMaxPerConnection)
        throw new QuestlogError(
          'quota_exceeded',
          `this connection holds ${config.presenceMaxPerConnection} members, its most (QUESTLOG_PRESENCE_MAX_PER_CONNECTION); open another connection`,
          { details: { maxPerConnection: config.presenceMaxPerConnection } },
        )
      const member: PresenceMember = { id: f.member, connection: this.connection }
      if (f.info !== undefined) {
        const bytes = Buffer.byteLength(JSON.stringify(f.info))
        if (bytes > config.presenceMaxInfoBytes)
          throw new PayloadTooLargeError(
            `a member's info is at most ${config.presenceMaxInfoBytes} bytes of JSON (QUESTLOG_PRESENCE_MAX_INFO_BYTES); this is ${bytes}`,
            bytes,
            config.presenceMaxInfoBytes,
            { path: 'info' },
          )
        member.info = f.info
      } else if (f.action === 'update' && known) {
        throw new BadRequestError('an update gives the new info', { details: { path: 'info' } })
      }
      this.o.presence.set(LOCAL, f.channel, member)
      this.held.set(key, {
        channel: f.channel,
        id: f.member,
        ttlMs: f.ttlMs ?? known?.ttlMs ?? config.presenceTtlMs,
      })
      this.o.presence.track(this)
    }
    this.o.send({ op: 'ok', id: f.id })
  }

  watch(f: PresenceWatchFrame): void {
    requireTopic(this.o.principal(), 'presence', f.channel)
    if (this.watches.has(f.sid)) throw new BadRequestError(`'${f.sid}' is already watched on this connection`)
    const limit = this.o.config.maxSubscriptionsPerConnection
    if (this.watches.size >= limit)
      throw new BadRequestError(`at most ${limit} presence watches per connection; open another connection`)
    const watcher = new PresenceWatcher({
      sid: f.sid,
      send: this.o.send,
      congested: this.o.congested,
      flushMs: this.o.config.presenceFlushMs,
    })
    this.watches.set(f.sid, { watcher, off: this.o.presence.watch(f.channel, watcher) })
  }

  /** Stops a watch; false when `sid` is none. */
  unwatch(sid: string): boolean {
    const w = this.watches.get(sid)
    if (!w) return false
    w.watcher.stop()
    w.off()
    this.watches.delete(sid)
    return true
  }

  expire(now: number): void {
    const silent = now - this.heardAt
    let lapsed = false
    for (const [key, h] of this.held) {
      if (silent <= h.ttlMs) continue
      this.held.delete(key)
      this.o.presence.remove(LOCAL, h.channel, this.connection, h.id)
      lapsed = true
    }
    if (this.held.size === 0) this.o.presence.untrack(this)
    // a client that was only frozen would think itself present: it is let go, and enters again
    if (lapsed) this.o.lapsed()
  }

  /** The connection closed: its members leave and its watches end. */
  close(): void {
    for (const h of this.held.values()) this.o.presence.remove(LOCAL, h.channel, this.connection, h.id)
    this.held.clear()
    this.o.presence.untrack(this)
    for (const sid of [...this.watches.keys()]) this.unwatch(sid)
  }
}
