import { type PresenceMember, QuestlogError } from '@questlog/protocol'
import type { PresenceWatcher } from './presence-watcher'

/** Where a member came from: this broker's own connections, or a peer link (the object itself). */
export type Origin = object
export const LOCAL: Origin = Object.freeze({ local: true })

/** One member set or removed, as it travels to the other brokers. */
export interface PresenceChange {
  channel: string
  connection: string
  id: string
  present: boolean
  info?: unknown
}

interface Entry {
  member: PresenceMember
  /** Its JSON, to tell a real update from a repeat (a re-enter after a reconnect). */
  infoText: string
  origin: Origin
}

interface Channel {
  members: Map<string, Entry>
  watchers: Set<PresenceWatcher>
}

export interface PresenceOptions {
  /** Most members one channel holds; an enter past it is refused with `quota_exceeded`. */
  maxMembers: number
}

/** A connection with members: it removes those whose TTL passed since it was last heard from. */
export interface PresenceHolder {
  expire(now: number): void
}

/** How often silent connections are looked for: the slack on top of a member's TTL. */
const SWEEP_MS = 250

/** A member's key on its channel: the connection that entered it, and its id there. */
export const memberKey = (connection: string, id: string) => `${connection}/${id}`

/**
 * Every presence channel as this broker knows it: its own connections' members and those the
 * other brokers told it of over the peer links (`cluster/peers.ts`). Each member belongs to one
 * origin; a link that closes takes its members with it, so a dead broker's members leave every
 * other broker's view within the link's dead-after time. Local changes are sent on to the links
 * in one batch per turn of the event loop; watchers hear every change and coalesce it
 * themselves (see PresenceWatcher). Nothing is stored: a restarted cluster starts empty, and
 * clients enter again as they reconnect.
 */
export class Presence {
  private readonly channels = new Map<string, Channel>()
  private readonly listeners = new Set<(changes: PresenceChange[]) => void>()
  private outgoing: PresenceChange[] = []
  private flushing = false
  /** Connections holding members, checked for silence every SWEEP_MS. */
  private readonly holders = new Set<PresenceHolder>()
  private sweeper: NodeJS.Timeout | undefined

  constructor(private readonly o: PresenceOptions) {}

  /** Checks `h` for silence past its members' TTL until `untrack`. */
  track(h: PresenceHolder): void {
    this.holders.add(h)
    this.sweeper ??= setInterval(() => {
      const now = Date.now()
      for (const holder of [...this.holders]) holder.expire(now)
      if (this.holders.size === 0) {
        clearInterval(this.sweeper)
        this.sweeper = undefined
      }
    }, SWEEP_MS)
    this.sweeper.unref()
  }

  untrack(h: PresenceHolder): void {
    this.holders.delete(h)
  }

  /** The channel's members now, from every broker. */
  members(channel: string): PresenceMember[] {
    const c = this.channels.get(channel)
    return c ? [...c.members.values()].map((e) => e.member) : []
  }

  size(channel: string): number {
    return this.channels.get(channel)?.members.size ?? 0
  }

  /** Enters or updates a member of `origin`. A new local member past the channel's cap is refused. */
  set(origin: Origin, channel: string, member: PresenceMember): void {
    const key = memberKey(member.connection, member.id)
    const c = this.channel(channel)
    const before = c.members.get(key)
    if (!before && origin === LOCAL && c.members.size >= this.o.maxMembers) {
      if (c.members.size === 0) this.channels.delete(channel)
      throw new QuestlogError(
        'quota_exceeded',
        `channel '${channel}' has ${this.o.maxMembers} members, its most (QUESTLOG_PRESENCE_MAX_MEMBERS); try another channel`,
        { details: { channel, maxMembers: this.o.maxMembers } },
      )
    }
    const infoText = member.info === undefined ? '' : JSON.stringify(member.info)
    c.members.set(key, { member, infoText, origin })
    if (origin === LOCAL)
      this.send({ channel, connection: member.connection, id: member.id, present: true, info: member.info })
    if (before && before.infoText === infoText) return
    const ref = { id: member.id, connection: member.connection }
    for (const w of c.watchers) w.note(key, ref, before !== undefined, member)
  }

  /** Removes a member, if `origin` holds it. */
  remove(origin: Origin, channel: string, connection: string, id: string): void {
    const c = this.channels.get(channel)
    const key = memberKey(connection, id)
    const before = c?.members.get(key)
    if (!c || !before || before.origin !== origin) return
    c.members.delete(key)
    if (origin === LOCAL) this.send({ channel, connection, id, present: false })
    for (const w of c.watchers) w.note(key, { id, connection }, true, null)
    if (c.members.size === 0 && c.watchers.size === 0) this.channels.delete(channel)
  }

  /** Applies what another broker said. */
  apply(origin: Origin, changes: readonly PresenceChange[]): void {
    for (const ch of changes) {
      if (ch.present) {
        const member: PresenceMember = { id: ch.id, connection: ch.connection }
        if (ch.info !== undefined) member.info = ch.info as PresenceMember['info']
        this.set(origin, ch.channel, member)
      } else this.remove(origin, ch.channel, ch.connection, ch.id)
    }
  }

  /** Removes every member of `origin` (a peer link that closed). */
  dropOrigin(origin: Origin): void {
    for (const [name, c] of this.channels) {
      for (const e of [...c.members.values()]) {
        if (e.origin === origin) this.remove(origin, name, e.member.connection, e.member.id)
      }
    }
  }

  /** Every member of this broker's own connections, as changes: what a new peer link is told first. */
  localMembers(): PresenceChange[] {
    const out: PresenceChange[] = []
    for (const [channel, c] of this.channels) {
      for (const e of c.members.values()) {
        if (e.origin !== LOCAL) continue
        out.push({
          channel,
          connection: e.member.connection,
          id: e.member.id,
          present: true,
          info: e.member.info,
        })
      }
    }
    return out
  }

  /** Adds a watcher: it gets the members now (its snapshot), then every change. */
  watch(channel: string, w: PresenceWatcher): () => void {
    const c = this.channel(channel)
    c.watchers.add(w)
    w.snapshot([...c.members.values()].map((e) => e.member))
    return () => {
      c.watchers.delete(w)
      if (c.members.size === 0 && c.watchers.size === 0 && this.channels.get(channel) === c)
        this.channels.delete(channel)
    }
  }

  /** Hears this broker's own changes, batched per turn of the event loop; returns the stop. */
  onLocalChange(listener: (changes: PresenceChange[]) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private channel(name: string): Channel {
    let c = this.channels.get(name)
    if (!c) {
      c = { members: new Map(), watchers: new Set() }
      this.channels.set(name, c)
    }
    return c
  }

  private send(change: PresenceChange): void {
    if (this.listeners.size === 0) return
    this.outgoing.push(change)
    if (this.flushing) return
    this.flushing = true
    setImmediate(() => {
      this.flushing = false
      const batch = this.outgoing
      this.outgoing = []
      for (const l of this.listeners) l(batch)
    })
  }
}
