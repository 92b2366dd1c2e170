import { PROTOCOL_VERSION } from '@questlog/protocol'
import { createClient, defineRequest, isQuestlogError, type QuestlogClient } from '@questlog/sdk-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import type { Broker } from '../src/broker'
import { rpcRouterOf } from '../src/rpc/rpc-router'
import { brokerWithClients, startBroker } from './helpers'

const double = defineRequest(
  'rpc.double',
  z.object({ n: z.number().int() }),
  z.object({ n: z.number().int(), doubled: z.number().int(), by: z.string() }),
)

/** The fields of broker frames these tests look at. */
interface Frame {
  op: string
  id?: number
  to?: number
  code?: string
}

/** A responder on a raw socket, so a test can cut it like a crashed process would. */
async function rawResponder(url: string, subject: string) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/ws`)
  const frames: Frame[] = []
  const waiters: Array<() => void> = []
  ws.on('message', (d) => {
    frames.push(JSON.parse(d.toString()) as Frame)
    for (const w of waiters.splice(0)) w()
  })
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  const until = async (pred: (f: Frame[]) => boolean) => {
    while (!pred(frames)) await new Promise<void>((r) => waiters.push(r))
  }
  const send = (f: unknown) => ws.send(JSON.stringify(f))
  send({ op: 'hello', v: PROTOCOL_VERSION })
  send({ op: 'respond', id: 1, rid: 'raw', subject })
  await until((f) => f.some((x) => x.op === 'ok' && x.id === 1))
  const requests = () => frames.filter((f) => f.op === 'request')
  return { ws, frames, until, send, requests }
}

/** Time from sending a request to its rejection. */
async function timeToError(bus: QuestlogClient, subject: string): Promise<{ ms: number; error: unknown }> {
  const t0 = performance.now()
  try {
    await bus.request(subject, { x: 1 }, { timeoutMs: 10_000 })
  } catch (error) {
    return { ms: performance.now() - t0, error }
  }
  throw new Error('the request was answered')
}

describe('request/reply over the WebSocket', () => {
  const setup = brokerWithClients()
  const client = () => setup.client()

  it('routes 1,000 concurrent requests across 3 responders, each reply to its own request', async () => {
    const served = new Map<string, number>()
    for (const name of ['a', 'b', 'c']) {
      served.set(name, 0)
      await client().respond(double, async ({ n }) => {
        served.set(name, served.get(name)! + 1)
        // replies come back out of order
        if (n % 7 === 0) await new Promise((r) => setTimeout(r, 5))
        return { n, doubled: n * 2, by: name }
      })
    }
    const requester = client()
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, n) => requester.request(double, { n }, { timeoutMs: 30_000 })),
    )
    replies.forEach((r, n) => {
      expect(r.n).toBe(n)
      expect(r.doubled).toBe(2 * n)
    })
    const by = new Map<string, number>()
    for (const r of replies) by.set(r.by, (by.get(r.by) ?? 0) + 1)
    expect(by).toEqual(served)
    // round-robin: every responder gets its third
    for (const count of served.values()) expect(count).toBeGreaterThanOrEqual(300)
    expect(rpcRouterOf(setup.broker.services).pending).toBe(0)
  })

  it('lets a responder serve a pattern and passes its errors back typed', async () => {
    const responder = client()
    await responder.respond<{ a: number; b: number }, number>('rpc.math.*', (d, ctx) => {
      if (ctx.subject === 'rpc.math.div' && d.b === 0) throw new Error('division by zero')
      return ctx.subject === 'rpc.math.add' ? d.a + d.b : d.a / d.b
    })
    const bus = client()
    expect(await bus.request('rpc.math.add', { a: 2, b: 3 })).toBe(5)
    await expect(bus.request('rpc.math.div', { a: 1, b: 0 })).rejects.toMatchObject({
      code: 'internal',
      message: expect.stringMatching(/division by zero/),
    })
    // a payload failing the request schema never leaves the client
    await expect(bus.request(double, { n: 1.5 })).rejects.toMatchObject({ code: 'validation_error' })
  })

  it('tells a timeout from no responders, and says no responders at once', async () => {
    const silent = client()
    await silent.respond('rpc.silent', () => new Promise<never>(() => {}))
    const bus = client()
    let timeout: unknown
    const asked = performance.now()
    try {
      await bus.request('rpc.silent', { x: 1 }, { timeoutMs: 300 })
    } catch (e) {
      timeout = e
    }
    expect(isQuestlogError(timeout) && timeout.code).toBe('timeout')
    expect((timeout as Error).name).toBe('TimeoutError')
    // the broker's verdict comes at the request's 300 ms, not at some later bound
    expect(performance.now() - asked).toBeLessThan(2500)

    // an idle, open connection: measure only the round trip to the broker's verdict
    const times: number[] = []
    for (let i = 0; i < 9; i++) {
      const { ms, error } = await timeToError(bus, 'rpc.nobody.home')
      expect(isQuestlogError(error) && error.code).toBe('no_responders')
      expect((error as Error).name).toBe('NoRespondersError')
      times.push(ms)
    }
    times.sort((a, b) => a - b)
    expect(times[4]).toBeLessThan(50)
  })

  it('times out a request that never found a connection, and honours its AbortSignal', async () => {
    // nothing listens on port 1: the client keeps reconnecting
    const offline = setup.client({ brokers: ['http://127.0.0.1:1'], backoff: { initialMs: 50, maxMs: 200 } })
    await expect(offline.request('rpc.any', {}, { timeoutMs: 300 })).rejects.toMatchObject({
      name: 'TimeoutError',
      code: 'timeout',
    })
    // a responder that never got registered does not leave its caller waiting once the client closes
    const registering = offline.respond('rpc.any', () => 1)
    await offline.close()
    await expect(registering).rejects.toMatchObject({ name: 'ClientClosedError' })
    const silent = client()
    await silent.respond('rpc.slow', () => new Promise<never>(() => {}))
    const abort = new AbortController()
    const asked = client().request('rpc.slow', {}, { timeoutMs: 30_000, signal: abort.signal })
    abort.abort()
    await expect(asked).rejects.toMatchObject({ name: 'AbortedError' })
  })

  it('moves requests held by a responder that dies to another one', async () => {
    const dying = await rawResponder(setup.broker.url, 'rpc.work')
    const healthy = client()
    await healthy.respond<{ n: number }, number>('rpc.work', ({ n }) => n + 1)
    const bus = client()
    const pending = Array.from({ length: 10 }, (_, n) =>
      bus.request('rpc.work', { n }, { timeoutMs: 30_000 }),
    )
    // the raw responder never answers: half the requests sit with it until it dies
    await dying.until(() => dying.requests().length === 5)
    const t0 = Date.now()
    dying.ws.terminate()
    expect(await Promise.all(pending)).toEqual(Array.from({ length: 10 }, (_, n) => n + 1))
    // well before the 30 s timeout: they moved when the connection dropped
    expect(Date.now() - t0).toBeLessThan(15_000)
  })

  it('fails requests held by the only responder with NoResponders when it dies', async () => {
    const dying = await rawResponder(setup.broker.url, 'rpc.lonely')
    const bus = client()
    const pending = bus.request('rpc.lonely', {}, { timeoutMs: 30_000 }).catch((e: unknown) => e)
    await dying.until(() => dying.requests().length === 1)
    dying.ws.terminate()
    const error = await pending
    expect(isQuestlogError(error) && error.code).toBe('no_responders')
  })

  it('refuses a reply to a request the responder did not receive', async () => {
    const r1 = await rawResponder(setup.broker.url, 'rpc.mine')
    const r2 = await rawResponder(setup.broker.url, 'rpc.other')
    const bus = client()
    const answer = bus.request('rpc.mine', { q: 1 }, { timeoutMs: 30_000 })
    await r1.until(() => r1.requests().length === 1)
    const to = r1.requests()[0]!.to
    // r2 holds no such request: refused, and the requester still waits for r1
    r2.send({ op: 'reply', to, data: 'forged', id: 9 })
    await r2.until((f) => f.some((x) => x.op === 'error' && x.id === 9))
    expect(r2.frames.find((x) => x.op === 'error' && x.id === 9)?.code).toBe('not_found')
    r1.send({ op: 'reply', to, data: 'genuine' })
    expect(await answer).toBe('genuine')
    // answering twice is refused too
    r1.send({ op: 'reply', to, data: 'again', id: 10 })
    await r1.until((f) => f.some((x) => x.op === 'error' && x.id === 10))
    r1.ws.close()
    r2.ws.close()
  })
})

const ADMIN = `ql_rpcauthadmin_${'a'.repeat(43)}`

describe('request/reply with auth on', () => {
  let broker: Broker
  let requesterKey: string
  let responderKey: string
  beforeAll(async () => {
    broker = await startBroker({ auth: 'on', adminKey: ADMIN })
    const key = async (name: string, actions: Array<'publish' | 'subscribe'>) =>
      (
        await broker.services.keys.create({
          name,
          rules: [{ effect: 'allow', actions, topics: ['rpc.secure.>'] }],
        })
      ).key
    requesterKey = await key('matchmaker client', ['publish'])
    responderKey = await key('matchmaker', ['subscribe'])
  })
  afterAll(async () => {
    await broker?.stop()
  })

  it('needs subscribe to respond and publish to request', async () => {
    const requester = createClient({ brokers: [broker.url], token: requesterKey })
    const responder = createClient({ brokers: [broker.url], token: responderKey })
    try {
      // the requester's key may not subscribe, so it may not respond
      await expect(requester.respond('rpc.secure.find', () => 'x')).rejects.toMatchObject({
        code: 'forbidden',
      })
      // nor answer outside its grant
      await expect(responder.respond('rpc.>', () => 'x')).rejects.toMatchObject({ code: 'forbidden' })
      await responder.respond('rpc.secure.find', () => 'match-42')
      expect(await requester.request('rpc.secure.find', {}, { timeoutMs: 10_000 })).toBe('match-42')
      // the responder's key may not publish, so it may not request, even where a responder waits
      await expect(responder.request('rpc.secure.find', {}, { timeoutMs: 10_000 })).rejects.toMatchObject({
        code: 'forbidden',
      })
      await expect(requester.request('rpc.elsewhere', {}, { timeoutMs: 10_000 })).rejects.toMatchObject({
        code: 'forbidden',
      })
    } finally {
      await requester.close()
      await responder.close()
    }
  })
})

describe('request/reply under the frame rate limit', () => {
  const setup = brokerWithClients({ maxFramesPerSecond: 40 })

  it('answers every request of a responder busier than the limit: its replies are paid for by the requests', async () => {
    const responder = setup.client()
    await responder.respond(double, ({ n }) => ({ n, doubled: n * 2, by: 'busy' }))
    // ten requesters under the limit each; together they send the responder far more than 40 a second
    const requesters = Array.from({ length: 10 }, () => setup.client())
    const answers = await Promise.allSettled(
      requesters.flatMap((bus, r) =>
        Array.from({ length: 15 }, (_, i) => bus.request(double, { n: r * 100 + i }, { timeoutMs: 5000 })),
      ),
    )
    expect(answers.filter((a) => a.status === 'rejected').map((a) => String(a.reason))).toEqual([])
    expect(answers.map((a) => (a.status === 'fulfilled' ? a.value.doubled : -1))).toEqual(
      Array.from({ length: 10 }, (_, r) => Array.from({ length: 15 }, (_, i) => (r * 100 + i) * 2)).flat(),
    )
  })
})
