import type { PresenceMember, PresenceMemberRef } from '@questlog/protocol'

/** Members per `presence_snapshot` frame. */
const SNAPSHOT_PAGE = 500
/** Most members per `presence` (delta) frame. */
const DELTA_PAGE = 500

export interface WatcherOptions {
  sid: string
  send: (frame: object) => void
  /** True while the connection's send buffer is past its mark: deltas wait and keep coalescing. */
  congested: () => boolean
  /** Changes are gathered this long before they go out in one frame. */
  flushMs: number
}

interface Pending {
  ref: PresenceMemberRef
  /** Whether the watcher knew the member before the first change gathered. */
  had: boolean
  member: PresenceMember | null
}

/**
 * One connection watching one channel: the snapshot once, then coalesced deltas. Changes wait
 * in a map by member, so what one watcher holds is bounded by the channel's size whatever the
 * churn, and a frame names each member at most once: a member that came and went between two
 * frames is not sent at all, one that changed three times is sent once with its last info.
 * Frames per watcher are thus at most one per `flushMs`, and members in them at most the
 * changes made: linear in the changes, never in watchers × members.
 */
export class PresenceWatcher {
  private pending = new Map<string, Pending>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(private readonly o: WatcherOptions) {}

  snapshot(members: PresenceMember[]): void {
    for (let i = 0; i === 0 || i < members.length; i += SNAPSHOT_PAGE) {
      const page = members.slice(i, i + SNAPSHOT_PAGE)
      const done = i + SNAPSHOT_PAGE >= members.length
      this.o.send({ op: 'presence_snapshot', sid: this.o.sid, members: page, done })
    }
  }

  /** A member changed: `had` says whether it was present before, `member` is it now (null: gone). */
  note(key: string, ref: PresenceMemberRef, had: boolean, member: PresenceMember | null): void {
    if (this.stopped) return
    const p = this.pending.get(key)
    if (p) p.member = member
    else this.pending.set(key, { ref, had, member })
    this.schedule()
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.pending.clear()
  }

  private schedule(): void {
    if (this.timer !== undefined) return
    this.timer = setTimeout(() => this.flush(), this.o.flushMs)
    this.timer.unref()
  }

  private flush(): void {
    this.timer = undefined
    if (this.stopped || this.pending.size === 0) return
    if (this.o.congested()) {
      this.schedule()
      return
    }
    let joins: PresenceMember[] = []
    let updates: PresenceMember[] = []
    let leaves: PresenceMemberRef[] = []
    const send = () => {
      if (joins.length + updates.length + leaves.length === 0) return
      this.o.send({ op: 'presence', sid: this.o.sid, joins, updates, leaves })
      joins = []
      updates = []
      leaves = []
    }
    for (const [, p] of this.pending) {
      if (p.member) (p.had ? updates : joins).push(p.member)
      else if (p.had) leaves.push(p.ref)
      // a frame stays a page, whatever gathered meanwhile
      if (joins.length + updates.length + leaves.length >= DELTA_PAGE) send()
    }
    this.pending = new Map()
    send()
  }
}
