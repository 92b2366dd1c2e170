import { describe, expect, it } from 'vitest'
import { ADMIN, brokerProcesses, waitFor } from './broker-processes'
import { api, createTopic, rawSocket, sleep } from './helpers'

const DEAD_AFTER_MS = 1500
const procs = brokerProcesses()

async function makeKey(url: string, body: Record<string, unknown>): Promise<Record<string, string>> {
  const res = await api(url, 'POST', '/v1/keys', body, ADMIN)
  expect(res.status).toBe(201)
  return { authorization: `Bearer ${res.body.key}` }
}

const rules = [{ actions: ['publish', 'subscribe'], topics: ['lim.>'] }]

/** A WebSocket client of `key` on `url`: its first frame after hello (welcome, or the refusal). */
async function connect(url: string, key: Record<string, string>) {
  const sock = await rawSocket(url)
  sock.send({ op: 'hello', v: 1, token: key.authorization!.slice(7) })
  const first = await sock.next(1)
  return { ...sock, first }
}

describe('per-key limits hold for the cluster, not per broker', () => {
  it('a key publishing through three brokers at once gets its rate once, not three times', async () => {
    const { brokers } = await procs.cluster(3)
    const rate = 50
    const key = await makeKey(brokers[0]!.url, { name: 'fifty-a-second', rules, rateEventsPerSec: rate })
    await createTopic(brokers[0]!.url, 'lim.rate', { partitions: 3 }, ADMIN)
    const seconds = 3
    const until = Date.now() + seconds * 1000
    let accepted = 0
    let refused = 0
    const retryAfter: number[] = []
    // four publishers per broker, as fast as their answers come
    await Promise.all(
      brokers.flatMap((b) =>
        Array.from({ length: 4 }, async () => {
          while (Date.now() < until) {
            const r = await api(b.url, 'POST', '/v1/topics/lim.rate/events', { data: 1 }, key)
            if (r.status === 201) accepted++
            else {
              expect(r.status).toBe(429)
              expect(r.body.error.code).toBe('rate_limited')
              retryAfter.push(r.body.error.details.retryAfterMs)
              refused++
              await sleep(20)
            }
          }
        }),
      ),
    )
    // a second's burst and the rate for the time spent, for all three together, give or take a chunk each
    const bound = rate * seconds + rate
    console.info(
      `rate ${rate}/s over ${seconds} s on 3 brokers: ${accepted} accepted (bound ${bound}), ${refused} refused`,
    )
    expect(accepted).toBeLessThanOrEqual(bound * 1.25)
    expect(accepted).toBeGreaterThan(rate * seconds * 0.6)
    expect(refused).toBeGreaterThan(0)
    expect(retryAfter.every((ms) => ms > 0 && ms <= 1000)).toBe(true)
  })

  it("a key's connections, streams and waiting confirmations are counted over every broker, and a dead broker's are freed", async () => {
    const { brokers } = await procs.cluster(3)
    const [a, b, c] = brokers as [(typeof brokers)[0], (typeof brokers)[0], (typeof brokers)[0]]
    const key = await makeKey(a.url, {
      name: 'small-tenant',
      rules,
      quotas: { connections: 3, streams: 1, confirmations: 1 },
    })
    await createTopic(a.url, 'lim.q', { partitions: 1 }, ADMIN)

    // connections: two on A and one on B fill the quota; C refuses the fourth
    const onA = [await connect(a.url, key), await connect(a.url, key)]
    const onB = await connect(b.url, key)
    for (const s of [...onA, onB]) expect(s.first.op).toBe('welcome')
    const fourth = await connect(c.url, key)
    expect(fourth.first).toMatchObject({
      op: 'error',
      code: 'quota_exceeded',
      details: { quota: 'connections', limit: 3 },
    })
    expect(await fourth.closed).toBe(4429)
    // one closes on A: the place is free on C once A gives its slot back (a heartbeat)
    onA[0]!.ws.close()
    const again = await waitFor('a connection on C', 5000, async () => {
      const s = await connect(c.url, key)
      if (s.first.op === 'welcome') return s
      s.ws.close()
      return undefined
    })
    // B dies holding one: its slot is free within the dead-after time
    await b.kill()
    const killedAt = Date.now()
    const afterKill = await waitFor('a connection after the kill', DEAD_AFTER_MS + 4000, async () => {
      const s = await connect(c.url, key)
      if (s.first.op === 'welcome') return s
      s.ws.close()
      return undefined
    })
    expect(Date.now() - killedAt).toBeLessThan(DEAD_AFTER_MS + 3000)
    for (const s of [onA[1]!, again, afterKill]) s.ws.close()

    // streams: one SSE stream on A; a second on C is refused
    const streamA = new AbortController()
    const first = await fetch(`${a.url}/v1/topics/lim.q/stream`, { headers: key, signal: streamA.signal })
    expect(first.status).toBe(200)
    const second = await api(c.url, 'GET', '/v1/topics/lim.q/stream', undefined, key)
    expect(second.status).toBe(429)
    expect(second.body.error.details).toMatchObject({ quota: 'streams', limit: 1 })
    streamA.abort()

    // waiting confirmations: one waits on A, the next on C is refused before it is stored
    const waiting = api(
      a.url,
      'POST',
      '/v1/topics/lim.q/events?confirm=1&confirmTimeoutMs=2000',
      { data: 1 },
      key,
    )
    await sleep(500)
    const refused = await api(
      c.url,
      'POST',
      '/v1/topics/lim.q/events?confirm=1&confirmTimeoutMs=100',
      { data: 2 },
      key,
    )
    expect(refused.status).toBe(429)
    expect(refused.body.error.details).toMatchObject({ quota: 'confirmations', limit: 1 })
    expect((await waiting).status).toBe(504)
  })
})
