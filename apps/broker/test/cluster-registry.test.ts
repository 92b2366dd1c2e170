import { createClient } from '@questlog/sdk-node'
import { describe, expect, it } from 'vitest'
import { ADMIN, brokerProcesses, waitFor } from './broker-processes'
import { api, rawSocket, sleep } from './helpers'

const DEAD_AFTER_MS = 1500
const HEARTBEAT_MS = 200

const procs = brokerProcesses()

async function hello(url: string, token: string) {
  const sock = await rawSocket(url)
  sock.send({ op: 'hello', v: 1, token })
  const welcome = await sock.next(1)
  return { ...sock, welcome }
}

describe('the broker registry: three processes, one database', () => {
  it('lists every live broker, drops a killed one within the dead-after time, and shows a narrow key no versions', async () => {
    const { brokers } = await procs.cluster(3)
    const [a, b, c] = brokers as [(typeof brokers)[0], (typeof brokers)[0], (typeof brokers)[0]]
    const ids = brokers.map((x) => x.id).sort()

    // every broker knows all three, with their URLs and health figures
    for (const x of brokers) {
      const res = await waitFor('three brokers listed', 5000, async () => {
        const r = await api(x.url, 'GET', '/v1/brokers', undefined, ADMIN)
        return r.body.brokers.length === 3 ? r : undefined
      })
      expect(res.body.brokers.map((y: { id: string }) => y.id).sort()).toEqual(ids)
      for (const y of res.body.brokers) {
        expect(y.url).toBe(brokers.find((z) => z.id === y.id)!.url)
        expect(y.version).toBe('0.1.0')
        expect(typeof y.startedAt).toBe('string')
        expect(y.health).toMatchObject({ status: 'ok', connections: expect.any(Number) })
        expect(typeof y.health.load).toBe('number')
        expect(typeof y.health.lag_ms).toBe('number')
        expect(typeof y.health.db_latency_ms).toBe('number')
      }
    }

    // a key without admin rights sees where brokers are and how they fare, not what they run
    const narrow = await api(
      a.url,
      'POST',
      '/v1/keys',
      { name: 'game', rules: [{ effect: 'allow', actions: ['publish'], topics: ['game.>'] }] },
      ADMIN,
    )
    expect(narrow.status).toBe(201)
    const narrowAuth = { authorization: `Bearer ${narrow.body.key}` }
    const seen = await api(b.url, 'GET', '/v1/brokers', undefined, narrowAuth)
    expect(seen.status).toBe(200)
    expect(seen.body.brokers).toHaveLength(3)
    for (const y of seen.body.brokers) {
      expect(Object.keys(y).sort()).toEqual(['health', 'id', 'url'])
    }
    // a browser token minted from it sees the same
    const token = await api(b.url, 'POST', '/v1/tokens', { ttlSeconds: 60 }, narrowAuth)
    expect(token.status).toBe(201)
    const byToken = await api(a.url, 'GET', '/v1/brokers', undefined, {
      authorization: `Bearer ${token.body.token}`,
    })
    expect(byToken.status).toBe(200)
    expect(Object.keys(byToken.body.brokers[0]).sort()).toEqual(['health', 'id', 'url'])
    // nobody without a credential
    expect((await api(a.url, 'GET', '/v1/brokers')).status).toBe(401)
    expect((await api(a.url, 'GET', '/v1/brokers', undefined, { authorization: 'Bearer nope' })).status).toBe(
      401,
    )
    // the console's procedure is for administrators only
    const trpcNarrow = await fetch(`${a.url}/trpc/brokers`, { headers: narrowAuth })
    expect(trpcNarrow.status).toBe(403)

    // WebSocket clients learn the live set from the welcome frame
    // (a broker's welcome carries its own view as of its last heartbeat, which a loaded machine may delay)
    const admin = await waitFor('a welcome listing three brokers', 5000, async () => {
      const s = await hello(a.url, ADMIN.authorization.slice(7))
      if (s.welcome.brokers?.length === 3) return s
      s.ws.close()
      return undefined
    })
    const game = await hello(a.url, narrow.body.key)
    expect(admin.welcome.op).toBe('welcome')
    expect(admin.welcome.brokers.map((y: { id: string }) => y.id).sort()).toEqual(ids)
    expect(admin.welcome.brokers[0].version).toBe('0.1.0')
    expect(game.welcome.brokers).toHaveLength(3)
    expect(game.welcome.brokers[0].version).toBeUndefined()
    const sdk = createClient({ brokers: [a.url], token: narrow.body.key })
    try {
      await waitFor('the SDK learns the set', 5000, async () =>
        sdk.liveBrokers().length === 3 ? true : undefined,
      )

      // kill -9 one: it leaves every view within the dead-after time (plus a heartbeat to notice)
      const killedAt = Date.now()
      await c.kill()
      const frame = await waitFor(
        'a brokers frame without the killed broker',
        DEAD_AFTER_MS + 3000,
        async () => admin.brokerFrames.find((f) => f.brokers.length === 2),
      )
      const frameMs = Date.now() - killedAt
      expect(frame.brokers.map((y: { id: string }) => y.id).sort()).toEqual([a.id, b.id].sort())
      expect(frameMs).toBeLessThan(DEAD_AFTER_MS + 2 * HEARTBEAT_MS + 1000)
      const listed = await api(b.url, 'GET', '/v1/brokers', undefined, ADMIN)
      expect(listed.body.brokers.map((y: { id: string }) => y.id).sort()).toEqual([a.id, b.id].sort())
      await waitFor('the SDK drops it', 2000, async () => (sdk.liveBrokers().length === 2 ? true : undefined))
      expect(sdk.liveBrokers().every((y) => y.version === undefined)).toBe(true)
      // (a frame may also come when a broker's health figures moved far: the one after the kill lists two)
      const narrowFrame = game.brokerFrames.find((f) => f.brokers.length === 2)
      expect(narrowFrame.brokers).toHaveLength(2)
      expect(narrowFrame.brokers[0].version).toBeUndefined()

      // only on change: a quiet cluster sends no more frames
      const before = admin.brokerFrames.length
      await sleep(5 * HEARTBEAT_MS)
      // (figures that moved far may still be sent; the set and the statuses do not change)
      const membership = (f: { brokers: Array<{ id: string; health: { status: string } }> }) =>
        f.brokers.map((y) => `${y.id}:${y.health.status}`).join(',')
      const last = membership(admin.brokerFrames.at(-1))
      expect(
        admin.brokerFrames
          .slice(before)
          .filter((f) => membership(f) !== last)
          .map(membership),
      ).toEqual([])

      // the console sees the dead one as dead; a clean stop leaves at once, as stopped
      const stoppedAt = Date.now()
      await b.stop()
      const after = await waitFor('a frame without the stopped broker', 3000, async () =>
        admin.brokerFrames.slice(before).find((f) => f.brokers.length === 1),
      )
      expect(after.brokers[0].id).toBe(a.id)
      expect(Date.now() - stoppedAt).toBeLessThan(DEAD_AFTER_MS + 2000)
      const all = await fetch(`${a.url}/trpc/brokers`, { headers: ADMIN })
      const rows = ((await all.json()) as { result: { data: Array<{ id: string; state: string }> } }).result
        .data
      expect(Object.fromEntries(rows.map((r) => [r.id, r.state]))).toEqual({
        [a.id]: 'live',
        [b.id]: 'stopped',
        [c.id]: 'dead',
      })
    } finally {
      await sdk.close()
      admin.ws.close()
      game.ws.close()
    }
  })
})
