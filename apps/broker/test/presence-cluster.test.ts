import { createClient, type PresenceChannel, type QuestlogClient } from '@questlog/sdk-node'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { brokerProcesses, waitFor } from './broker-processes'
import { rawSocket, sleep } from './helpers'

const ENV = { QUESTLOG_AUTH: 'off' }
const CHANNEL = 'lobby.eu'

const procs = brokerProcesses()
const clients: QuestlogClient[] = []
const sockets: Array<Awaited<ReturnType<typeof rawSocket>>> = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  for (const s of sockets.splice(0)) s.ws.terminate()
})

function client(url: string): QuestlogClient {
  // kept on its broker: a member's broker is what the test chooses
  const c = createClient({ brokers: [url], connectTimeoutMs: 5000, routing: { discover: false } })
  clients.push(c)
  return c
}

/**
 * A watcher on a raw socket: the members it was told of, and every presence frame counted, so
 * the test sees exactly what one subscriber was sent.
 */
async function rawWatcher(url: string, channel = CHANNEL) {
  const s = await rawSocket(url)
  sockets.push(s)
  s.send({ op: 'hello', v: 1 })
  await s.next(1)
  const members = new Map<string, unknown>()
  const counts = { snapshotFrames: 0, deltaFrames: 0, deltaEntries: 0 }
  let synced = false
  s.ws.on('message', (d) => {
    const f = JSON.parse(d.toString())
    const key = (m: { id: string; connection: string }) => `${m.connection}/${m.id}`
    if (f.op === 'presence_snapshot') {
      counts.snapshotFrames++
      for (const m of f.members) members.set(key(m), m.info)
      if (f.done) synced = true
    } else if (f.op === 'presence') {
      counts.deltaFrames++
      counts.deltaEntries += f.joins.length + f.updates.length + f.leaves.length
      for (const m of [...f.joins, ...f.updates]) members.set(key(m), m.info)
      for (const m of f.leaves) members.delete(key(m))
    }
  })
  s.send({ op: 'presence_watch', sid: 'w', channel })
  await waitFor('the watch snapshot', 5000, async () => (synced ? true : undefined))
  return {
    ids: () => new Set([...members.keys()].map((k) => k.slice(k.indexOf('/') + 1))),
    /** Each member as `id=info`: a view converged on these has every update too. */
    entries: () =>
      new Set([...members].map(([k, info]) => `${k.slice(k.indexOf('/') + 1)}=${JSON.stringify(info)}`)),
    infoOf: (id: string) => [...members].find(([k]) => k.endsWith(`/${id}`))?.[1],
    counts,
  }
}

const sameSet = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((x) => b.has(x))

/** Waits until every view shows `truth`; the time it took. */
async function converged(views: Array<() => Promise<Set<string>> | Set<string>>, truth: Set<string>) {
  const t0 = performance.now()
  await waitFor(`every view shows the ${truth.size} members`, 10_000, async () => {
    for (const v of views) if (!sameSet(await v(), truth)) return undefined
    return true
  }).catch(async (e) => {
    throw new Error(
      `${(e as Error).message}; views: ${(await Promise.all(views.map(async (v) => [...(await v())].slice(0, 10).join(',')))).join(' | ')}`,
    )
  })
  return performance.now() - t0
}

describe('presence across three broker processes', () => {
  it('1,000 members enter and leave over Node clients on three brokers: every watcher converges within 2 s, and each is sent deltas linear in the changes', async () => {
    const { brokers } = await procs.cluster(3, ENV)
    const raw = await Promise.all(brokers.map((b) => rawWatcher(b.url)))
    // SDK watchers too, one per broker: their members() is the view a game would use
    const sdkWatchers = brokers.map((b) => client(b.url).presence(CHANNEL))
    for (const w of sdkWatchers) expect(await w.members()).toEqual([])
    // two clients per broker hold the members, several members per connection
    const holders = brokers.flatMap((b) => [client(b.url), client(b.url)])
    const members: Array<PresenceChannel<{ n: number; ready?: boolean }>> = []
    for (let i = 0; i < 1000; i++) {
      members.push(holders[i % holders.length]!.presence(CHANNEL, { member: `player-${i}`, ttlMs: 10_000 }))
    }
    // the true set, member → info, and as `id=info` entries the views are compared with
    const truth = new Map<string, unknown>()
    const entries = () => new Set([...truth].map(([id, info]) => `${id}=${JSON.stringify(info)}`))
    const views = [
      ...raw.map((r) => () => r.entries()),
      ...sdkWatchers.map(
        (w) => async () => new Set((await w.members()).map((m) => `${m.id}=${JSON.stringify(m.info)}`)),
      ),
    ]
    let changes = 0

    await Promise.all(members.map((m, i) => m.enter({ n: i })))
    for (const [i, m] of members.entries()) truth.set(m.member, { n: i })
    changes += 1000
    const enterMs = await converged(views, entries())
    expect(enterMs).toBeLessThan(2000)

    // half leave, a fifth of the rest update, a hundred more come and go again
    await Promise.all(members.slice(0, 500).map((m) => m.leave()))
    for (const m of members.slice(0, 500)) truth.delete(m.member)
    await Promise.all(members.slice(500, 700).map((m, i) => m.update({ n: 500 + i, ready: true })))
    for (const [i, m] of members.slice(500, 700).entries()) truth.set(m.member, { n: 500 + i, ready: true })
    changes += 700
    const churn = Array.from({ length: 100 }, (_, i) =>
      holders[i % holders.length]!.presence(CHANNEL, { member: `guest-${i}` }),
    )
    await Promise.all(churn.map((g) => g.enter()))
    await Promise.all(churn.map((g) => g.leave()))
    changes += 200
    const churnMs = await converged(views, entries())
    expect(churnMs).toBeLessThan(2000)
    for (const r of raw) expect(r.infoOf('player-650')).toEqual({ n: 650, ready: true })
    const sdkMember = (await sdkWatchers[2]!.members()).find((m) => m.id === 'player-650')
    expect(sdkMember?.info).toEqual({ n: 650, ready: true })

    // one snapshot each (empty: they watched first), then deltas: never more entries than
    // changes made, and far fewer frames (coalesced), whatever the number of members
    for (const r of raw) {
      expect(r.counts.snapshotFrames).toBe(1)
      expect(r.counts.deltaEntries).toBeLessThanOrEqual(changes)
      expect(r.counts.deltaEntries).toBeGreaterThanOrEqual(1000 + 500 + 200)
      expect(r.counts.deltaFrames).toBeLessThan(changes / 5)
    }
    // a watcher arriving now gets the 500 in its snapshot (one page of 500), nothing more
    const late = await rawWatcher(brokers[1]!.url)
    expect(sameSet(late.entries(), entries())).toBe(true)
    expect(late.counts.snapshotFrames).toBe(1)
    expect(late.counts.deltaFrames).toBe(0)
    // the same members over HTTP, from any broker
    const res = await fetch(`${brokers[0]!.url}/v1/presence/${CHANNEL}`)
    const body = (await res.json()) as { members: Array<{ id: string }> }
    expect(sameSet(new Set(body.members.map((m) => m.id)), new Set(truth.keys()))).toBe(true)
    console.log(
      `presence: 1,000 entered in view everywhere after ${enterMs.toFixed(0)} ms, churn after ${churnMs.toFixed(0)} ms; per watcher ${raw.map((r) => `${r.counts.deltaFrames} frames/${r.counts.deltaEntries} entries`).join(', ')} for ${changes} changes`,
    )
  })

  it('a client gone without leaving is removed within its TTL: a silent socket, a socket destroyed, and the members of a killed broker', async () => {
    const { brokers } = await procs.cluster(3, ENV)
    const [a, b, c] = brokers as [(typeof brokers)[0], (typeof brokers)[0], (typeof brokers)[0]]
    const watcher = await rawWatcher(c.url)
    const ttlMs = 2000
    const timers: NodeJS.Timeout[] = []
    /** A member on a raw socket that pings as the SDK does, unless `silent`. */
    const enterRaw = async (url: string, member: string, silent = false) => {
      const s = await rawSocket(url)
      sockets.push(s)
      s.send({ op: 'hello', v: 1 })
      await s.next(1)
      s.send({ op: 'presence', id: 1, action: 'enter', channel: CHANNEL, member, ttlMs })
      expect(await s.next(2)).toEqual({ op: 'ok', id: 1 })
      if (!silent)
        timers.push(setInterval(() => s.ws.readyState === s.ws.OPEN && s.send({ op: 'ping' }), ttlMs / 4))
      return s
    }
    onTestFinished(() => {
      for (const t of timers) clearInterval(t)
    })
    // an SDK member with the same TTL stays: its client pings
    const kept = client(a.url).presence(CHANNEL, { member: 'kept', ttlMs })
    await kept.enter()
    const keptSince = performance.now()
    const destroyed = await enterRaw(b.url, 'destroyed')
    const onKilled = await enterRaw(b.url, 'on-killed-broker')
    // SDK clients on b that may go on to another broker: a member enters again there, a watcher
    // watches again and its view follows
    const moverBus = createClient({
      brokers: [b.url, a.url],
      connectTimeoutMs: 2000,
      routing: { discover: false },
    })
    clients.push(moverBus)
    const mover = moverBus.presence(CHANNEL, { member: 'mover', ttlMs })
    await mover.enter({ v: 1 })
    const watcherBus = createClient({
      brokers: [b.url, c.url],
      connectTimeoutMs: 2000,
      routing: { discover: false },
    })
    clients.push(watcherBus)
    const sdkWatcher = watcherBus.presence(CHANNEL)
    const changes: string[] = []
    void (async () => {
      for await (const ch of sdkWatcher) changes.push(`${ch.type}:${ch.member.id}`)
    })().catch(() => {})
    const sdkIds = async () => new Set((await sdkWatcher.members()).map((m) => m.id))
    await converged(
      [() => watcher.ids(), sdkIds],
      new Set(['kept', 'destroyed', 'on-killed-broker', 'mover']),
    )

    // one more enters and then sends nothing; its socket stays open: it goes after its TTL, not
    // before (the time is taken before its last frame, the enter, goes)
    const silentSince = performance.now()
    const silent = await enterRaw(a.url, 'silent', true)
    await converged(
      [() => watcher.ids()],
      new Set(['kept', 'silent', 'destroyed', 'on-killed-broker', 'mover']),
    )
    await converged([() => watcher.ids()], new Set(['kept', 'destroyed', 'on-killed-broker', 'mover']))
    const silentGone = performance.now() - silentSince
    expect(silentGone).toBeGreaterThan(ttlMs - 50)
    // its TTL, the sweep (250 ms), the watcher's gathering (50 ms), a link and a loaded machine
    expect(silentGone).toBeLessThan(ttlMs + 1500)
    // and its connection is let go, so that a client that was only frozen enters again
    expect(await silent.closed).toBe(1001)

    // a socket cut without a close frame
    const cutAt = performance.now()
    ;(destroyed.ws as unknown as { _socket: { destroy(): void } })._socket.destroy()
    await converged([() => watcher.ids()], new Set(['kept', 'on-killed-broker', 'mover']))
    expect(performance.now() - cutAt).toBeLessThan(ttlMs)

    // the broker dies with its member's connection: the others drop its members with the link
    const killedAt = performance.now()
    await b.kill()
    await waitFor("the killed broker's raw member gone", 10_000, async () =>
      watcher.ids().has('on-killed-broker') ? undefined : true,
    )
    expect(performance.now() - killedAt).toBeLessThan(ttlMs)
    // the mover is back (entered again on a, if it was on b) and the moved watcher sees what c sees
    await converged([() => watcher.ids(), sdkIds], new Set(['kept', 'mover']))
    expect(changes).toContain('leave:on-killed-broker')
    expect(changes).not.toContain('leave:kept')
    void onKilled

    // twice its TTL after it entered, the pinging member is still there (a wait that only a
    // slower machine makes longer, and the check stronger)
    await sleep(Math.max(0, keptSince + 2 * ttlMs - performance.now()))
    expect(watcher.ids()).toEqual(new Set(['kept', 'mover']))
  })
})
