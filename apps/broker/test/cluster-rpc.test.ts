import { createHmac } from 'node:crypto'
import { createClient, defineRequest, isQuestlogError, type QuestlogClient } from '@questlog/sdk-node'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { brokerProcesses, waitFor } from './broker-processes'
import { rawSocket, sleep } from './helpers'

const ENV = { QUESTLOG_AUTH: 'off' }
const DEAD_AFTER_MS = 1500

const double = defineRequest(
  'rpc.double',
  z.object({ n: z.number().int() }),
  z.object({ n: z.number().int(), doubled: z.number().int(), by: z.string() }),
)

const procs = brokerProcesses()
const clients: QuestlogClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})
function client(url: string): QuestlogClient {
  const c = createClient({ brokers: [url], connectTimeoutMs: 5000 })
  clients.push(c)
  return c
}

/** Time from sending a request to its rejection. */
async function timeToError(bus: QuestlogClient, subject: string, timeoutMs = 10_000) {
  const t0 = performance.now()
  try {
    await bus.request(subject, { x: 1 }, { timeoutMs })
  } catch (error) {
    return { ms: performance.now() - t0, error }
  }
  throw new Error('the request was answered')
}

/** Waits until `bus`'s broker routes `subject` to `n` responders (they register on other brokers). */
async function reachable(bus: QuestlogClient, n: number) {
  await waitFor(`${n} responders reachable`, 10_000, async () => {
    const seen = new Set<string>()
    const replies = await Promise.all(
      Array.from({ length: 4 * n }, (_, i) => bus.request(double, { n: i }, { timeoutMs: 2000 })),
    )
    for (const r of replies) seen.add(r.by)
    return seen.size === n ? true : undefined
  })
}

async function reachableSubject(bus: QuestlogClient, subject: string) {
  await waitFor(`${subject} reachable`, 10_000, async () =>
    bus.request(subject, { i: 0 }, { timeoutMs: 1000 }).then(
      () => true,
      () => undefined,
    ),
  )
}

describe('request/reply across broker processes', () => {
  it('1,000 concurrent requests on A reach three responders on B and C, each reply its own; no responder anywhere is a fast no_responders', async () => {
    const { brokers } = await procs.cluster(3, ENV)
    const [a, b, c] = brokers as [(typeof brokers)[0], (typeof brokers)[0], (typeof brokers)[0]]
    const served = new Map<string, number>()
    for (const [name, on] of [
      ['b1', b],
      ['b2', b],
      ['c1', c],
    ] as const) {
      served.set(name, 0)
      await client(on.url).respond(double, async ({ n }) => {
        served.set(name, served.get(name)! + 1)
        // replies come back out of order
        if (n % 7 === 0) await sleep(5)
        return { n, doubled: n * 2, by: name }
      })
    }
    const requester = client(a.url)
    await reachable(requester, 3)
    for (const k of served.keys()) served.set(k, 0)

    const t0 = performance.now()
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, n) => requester.request(double, { n }, { timeoutMs: 30_000 })),
    )
    const ms = performance.now() - t0
    replies.forEach((r, n) => {
      expect(r.n).toBe(n)
      expect(r.doubled).toBe(2 * n)
    })
    // round-robin over all three, wherever they are
    for (const [name, count] of served) expect(count, name).toBeGreaterThan(250)
    console.info(`1,000 concurrent requests A -> B/C answered in ${Math.round(ms)} ms`)

    // nobody answers this subject on any broker: said at once, not after the timeout
    const none = await timeToError(requester, 'nobody.home')
    expect(isQuestlogError(none.error) && none.error.code).toBe('no_responders')
    expect(none.ms).toBeLessThan(50)
    // a subject answered only on another broker is not "no responders"
    const quick = await requester.request(double, { n: 5 }, { timeoutMs: 1000 })
    expect(quick.doubled).toBe(10)

    // a figure, not a bound: one request at a time, to a responder on the same broker and on another
    const echo = (subject: string) =>
      defineRequest(subject, z.object({ i: z.number() }), z.object({ i: z.number() }))
    await client(a.url).respond(echo('rpc.here'), async (x) => x)
    await client(b.url).respond(echo('rpc.there'), async (x) => x)
    await reachableSubject(requester, 'rpc.there')
    const figures: string[] = []
    for (const subject of ['rpc.here', 'rpc.there']) {
      const times: number[] = []
      for (let i = 0; i < 300; i++) {
        const t = performance.now()
        await requester.request(echo(subject), { i }, { timeoutMs: 5000 })
        times.push(performance.now() - t)
      }
      times.sort((x, y) => x - y)
      const q = (p: number) => times[Math.floor(p * (times.length - 1))]!.toFixed(2)
      figures.push(
        `${subject === 'rpc.here' ? 'same broker' : 'across two brokers'}: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms`,
      )
    }
    console.info(`request/reply latency, 300 sequential requests: ${figures.join('; ')}`)
  })

  it('a responder that disconnects, or whose broker is killed, leaves no request waiting for its timeout', async () => {
    const { brokers } = await procs.cluster(3, ENV)
    const [a, b, c] = brokers as [(typeof brokers)[0], (typeof brokers)[0], (typeof brokers)[0]]
    // on B, a responder that answers; on C, a raw one that holds every request it gets
    await client(b.url).respond(double, async ({ n }) => ({ n, doubled: n * 2, by: 'b' }))
    const holder = await rawSocket(c.url)
    holder.send({ op: 'hello', v: 1 })
    holder.send({ op: 'respond', id: 1, rid: 'hold', subject: 'rpc.double' })
    await waitFor('the holder registered', 5000, async () =>
      holder.frames.some((f) => f.op === 'ok') ? true : undefined,
    )
    const requester = client(a.url)
    await waitFor('both responders reachable', 10_000, async () => {
      const before = holder.frames.filter((f) => f.op === 'request').length
      await Promise.all(
        Array.from({ length: 4 }, (_, n) =>
          requester.request(double, { n }, { timeoutMs: 300 }).catch(() => {}),
        ),
      )
      return holder.frames.filter((f) => f.op === 'request').length > before ? true : undefined
    })

    // the holder's connection goes: what it held is answered by B at once
    const held = () => holder.frames.filter((f) => f.op === 'request').length
    const heldBefore = held()
    const pending = Array.from({ length: 20 }, (_, n) =>
      requester.request(double, { n }, { timeoutMs: 20_000 }),
    )
    await waitFor('the holder holds some', 5000, async () => (held() > heldBefore ? true : undefined))
    const t0 = performance.now()
    holder.ws.terminate()
    const replies = await Promise.all(pending)
    expect(performance.now() - t0).toBeLessThan(3000)
    replies.forEach((r, n) => {
      expect(r.n).toBe(n)
      expect(r.by).toBe('b')
    })

    // a holder on C again, then C dies with requests in its hands
    const holder2 = await rawSocket(c.url)
    holder2.send({ op: 'hello', v: 1 })
    holder2.send({ op: 'respond', id: 1, rid: 'hold', subject: 'rpc.double' })
    await waitFor('the new holder is reachable', 10_000, async () => {
      const before = holder2.frames.filter((f) => f.op === 'request').length
      await Promise.all(
        Array.from({ length: 4 }, (_, n) =>
          requester.request(double, { n }, { timeoutMs: 300 }).catch(() => {}),
        ),
      )
      return holder2.frames.filter((f) => f.op === 'request').length > before ? true : undefined
    })
    const before2 = holder2.frames.filter((f) => f.op === 'request').length
    const pending2 = Array.from({ length: 20 }, (_, n) =>
      requester.request(double, { n }, { timeoutMs: 20_000 }),
    )
    await waitFor('C holds some', 5000, async () =>
      holder2.frames.filter((f) => f.op === 'request').length > before2 ? true : undefined,
    )
    const t1 = performance.now()
    await c.kill()
    const replies2 = await Promise.all(pending2)
    const movedMs = performance.now() - t1
    // the link to C drops with its process: within a heartbeat or two, far from the 20 s timeout
    expect(movedMs).toBeLessThan(DEAD_AFTER_MS + 1500)
    for (const r of replies2) expect(r.by).toBe('b')
    console.info(
      `requests held on a killed broker were answered elsewhere ${Math.round(movedMs)} ms after kill -9`,
    )
  })

  it('refuses the peer endpoint to whoever cannot prove a broker of the cluster, browsers first', async () => {
    const { brokers } = await procs.cluster(2, ENV)
    const [a, b] = brokers as [(typeof brokers)[0], (typeof brokers)[0]]
    const peerUrl = `${a.url.replace('http', 'ws')}/v1/cluster`
    const requester = client(a.url)

    // a browser page is refused before any handshake
    const fromPage = new WebSocket(peerUrl, { headers: { origin: 'https://evil.example' } })
    const refused = await new Promise<number>((resolve) => {
      fromPage.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      fromPage.once('open', () => resolve(101))
      fromPage.once('error', () => resolve(-1))
    })
    expect(refused).toBe(403)

    // a client that skips the handshake and claims responders, or forges a proof, is cut off
    const attempts: Array<(ws: WebSocket, challenge: { id: string; nonce: string }) => void> = [
      (ws) => ws.send(JSON.stringify({ op: 'respond', key: 'x/1', pattern: '>' })),
      (ws, ch) =>
        ws.send(
          JSON.stringify({
            op: 'auth',
            id: 'rogue',
            nonce: 'A'.repeat(43),
            // under a guessed secret: the database's and the master key's are out of its reach
            proof: createHmac('sha256', 'guess')
              .update(`questlog-peer|dial|${ch.nonce}|rogue|${ch.id}`)
              .digest('base64url'),
          }),
        ),
      (ws) => ws.send(Buffer.alloc(64 * 1024, 1)),
    ]
    for (const attempt of attempts) {
      const ws = new WebSocket(peerUrl)
      const frames: Array<{ op: string; id: string; nonce: string }> = []
      ws.on('message', (d) => frames.push(JSON.parse(d.toString())))
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
      await new Promise((r) => ws.once('open', r))
      await waitFor('a challenge', 2000, async () => frames[0])
      expect(frames[0]!.op).toBe('challenge')
      attempt(ws, frames[0]!)
      // after the challenge it hears nothing: no responders, no requests, no names
      ws.send(JSON.stringify({ op: 'request', corr: 1, key: 'x/1', subject: 'rpc.double', timeoutMs: 1000 }))
      expect(await closed).toBe(4401)
      expect(frames.map((f) => f.op)).toEqual(['challenge'])
    }
    // and nothing it sent took effect: still nobody answers
    const none = await timeToError(requester, 'rpc.double')
    expect(isQuestlogError(none.error) && none.error.code).toBe('no_responders')

    // the real brokers are linked all along: a responder on B is reachable from A
    await client(b.url).respond(double, async ({ n }) => ({ n, doubled: n * 2, by: 'b' }))
    await reachable(requester, 1)
  })
})
