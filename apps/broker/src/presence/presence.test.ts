import type { PresenceMember } from '@questlog/protocol'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LOCAL, memberKey, Presence, type PresenceChange } from './presence'
import { PresenceWatcher } from './presence-watcher'

const m = (id: string, info?: unknown, connection = 'c1'): PresenceMember =>
  info === undefined ? { id, connection } : { id, connection, info: info as PresenceMember['info'] }

/** A watcher whose frames are kept; `flush` sends what it gathered (its timer would, after flushMs). */
function watcherOf(presence: Presence, channel: string) {
  // biome-ignore lint/suspicious/noExplicitAny: frames are checked field by field below
  const frames: any[] = []
  const w = new PresenceWatcher({
    sid: 'w',
    send: (f) => frames.push(f),
    congested: () => false,
    flushMs: 60_000,
  })
  presence.watch(channel, w)
  return { frames, flush: () => (w as unknown as { flush(): void }).flush(), stop: () => w.stop() }
}

describe('presence watchers', () => {
  it('gets one snapshot, then one frame per flush naming each member once, with what it is now', () => {
    const p = new Presence({ maxMembers: 100 })
    p.set(LOCAL, 'lobby', m('a', { n: 1 }))
    const w = watcherOf(p, 'lobby')
    expect(w.frames).toEqual([{ op: 'presence_snapshot', sid: 'w', members: [m('a', { n: 1 })], done: true }])
    // b comes and goes, a changes three times, c stays
    p.set(LOCAL, 'lobby', m('b'))
    p.remove(LOCAL, 'lobby', 'c1', 'b')
    for (const n of [2, 3, 4]) p.set(LOCAL, 'lobby', m('a', { n }))
    p.set(LOCAL, 'lobby', m('c'))
    w.flush()
    expect(w.frames.slice(1)).toEqual([
      { op: 'presence', sid: 'w', joins: [m('c')], updates: [m('a', { n: 4 })], leaves: [] },
    ])
    p.remove(LOCAL, 'lobby', 'c1', 'a')
    p.set(LOCAL, 'lobby', m('a', { n: 4 }))
    p.remove(LOCAL, 'lobby', 'c1', 'c')
    w.flush()
    // a left and came back as it was: an update; c's leave names it
    expect(w.frames.slice(2)).toEqual([
      {
        op: 'presence',
        sid: 'w',
        joins: [],
        updates: [m('a', { n: 4 })],
        leaves: [{ id: 'c', connection: 'c1' }],
      },
    ])
    w.flush()
    expect(w.frames).toHaveLength(3)
  })

  it('a repeat of the same info (a re-enter after a reconnect) is no change', () => {
    const p = new Presence({ maxMembers: 100 })
    const w = watcherOf(p, 'lobby')
    p.set(LOCAL, 'lobby', m('a', { n: 1 }))
    w.flush()
    p.set(LOCAL, 'lobby', m('a', { n: 1 }))
    w.flush()
    expect(w.frames.map((f) => f.op)).toEqual(['presence_snapshot', 'presence'])
  })

  it('pages large deltas as it pages the snapshot', () => {
    const p = new Presence({ maxMembers: 10_000 })
    const w = watcherOf(p, 'big')
    for (let i = 0; i < 1200; i++) p.set(LOCAL, 'big', m(`p${i}`))
    w.flush()
    expect(w.frames.slice(1).map((f) => f.joins.length)).toEqual([500, 500, 200])
  })

  it('pages a large snapshot', () => {
    const p = new Presence({ maxMembers: 10_000 })
    for (let i = 0; i < 1200; i++) p.set(LOCAL, 'big', m(`p${i}`))
    const w = watcherOf(p, 'big')
    expect(w.frames.map((f) => [f.members.length, f.done])).toEqual([
      [500, false],
      [500, false],
      [200, true],
    ])
  })

  it('whatever the changes, the watcher rebuilds the true set from its frames, with at most one entry per change', () => {
    const op = fc.record({
      id: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      present: fc.boolean(),
      info: fc.integer({ min: 0, max: 3 }),
      flush: fc.boolean(),
    })
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const p = new Presence({ maxMembers: 100 })
        const w = watcherOf(p, 'ch')
        const truth = new Map<string, unknown>()
        for (const o of ops) {
          if (o.present) {
            p.set(LOCAL, 'ch', m(o.id, o.info))
            truth.set(o.id, o.info)
          } else {
            p.remove(LOCAL, 'ch', 'c1', o.id)
            truth.delete(o.id)
          }
          if (o.flush) w.flush()
        }
        w.flush()
        const view = new Map<string, unknown>()
        let entries = 0
        for (const f of w.frames) {
          if (f.op === 'presence_snapshot') continue
          entries += f.joins.length + f.updates.length + f.leaves.length
          for (const j of f.joins) {
            expect(view.has(j.id)).toBe(false)
            view.set(j.id, j.info)
          }
          for (const u of f.updates) {
            expect(view.has(u.id)).toBe(true)
            view.set(u.id, u.info)
          }
          for (const l of f.leaves) expect(view.delete(l.id)).toBe(true)
        }
        expect(view).toEqual(truth)
        expect(entries).toBeLessThanOrEqual(ops.length)
      }),
    )
  })
})

describe('presence across brokers', () => {
  it("tells the links only this broker's own changes, batched, and drops a link's members when it closes", async () => {
    const p = new Presence({ maxMembers: 100 })
    const told: PresenceChange[][] = []
    p.onLocalChange((c) => told.push(c))
    const link = {}
    p.set(LOCAL, 'lobby', m('mine'))
    p.apply(link, [{ channel: 'lobby', connection: 'c9', id: 'theirs', present: true, info: { x: 1 } }])
    p.set(LOCAL, 'lobby', m('mine2'))
    await new Promise((r) => setImmediate(r))
    expect(told).toEqual([
      [
        { channel: 'lobby', connection: 'c1', id: 'mine', present: true, info: undefined },
        { channel: 'lobby', connection: 'c1', id: 'mine2', present: true, info: undefined },
      ],
    ])
    expect(p.localMembers().map((c) => c.id)).toEqual(['mine', 'mine2'])
    const w = watcherOf(p, 'lobby')
    expect(w.frames[0].members.map((x: PresenceMember) => x.id).sort()).toEqual(['mine', 'mine2', 'theirs'])
    // a member brought by a link is not another origin's to remove
    p.remove(LOCAL, 'lobby', 'c9', 'theirs')
    expect(p.size('lobby')).toBe(3)
    p.dropOrigin(link)
    w.flush()
    expect(w.frames[1]).toMatchObject({ leaves: [{ id: 'theirs', connection: 'c9' }] })
    expect(memberKey('c9', 'theirs')).toBe('c9/theirs')
  })

  it('refuses a local member past the cap, with the setting in the message', () => {
    const p = new Presence({ maxMembers: 2 })
    p.set(LOCAL, 'lobby', m('a'))
    p.set(LOCAL, 'lobby', m('b'))
    expect(() => p.set(LOCAL, 'lobby', m('c'))).toThrow(/QUESTLOG_PRESENCE_MAX_MEMBERS/)
    // one already in may still change
    p.set(LOCAL, 'lobby', m('a', { ready: true }))
    expect(p.size('lobby')).toBe(2)
  })
})
