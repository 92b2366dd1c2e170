import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, rawSocket, readAll, sleep, startBroker } from './helpers'

const ADMIN = `ql_limits00000a_${'L'.repeat(43)}`
let broker: Broker

const as = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` })
const call = (key: string, method: string, path: string, body?: unknown) =>
  api(broker.url, method, path, body, as(key))

async function makeKey(body: Record<string, unknown>): Promise<string> {
  const res = await call(ADMIN, 'POST', '/v1/keys', body)
  expect(res.status).toBe(201)
  return res.body.key as string
}

const rules = [{ actions: ['publish', 'subscribe'], topics: ['lim.>'] }]

beforeAll(async () => {
  broker = await startBroker({ auth: 'on', adminKey: ADMIN, quotaTopics: 3 })
  for (const name of ['lim.rate', 'lim.bytes', 'lim.later']) {
    expect((await call(ADMIN, 'POST', '/v1/topics', { name })).status).toBe(201)
  }
})
afterAll(() => broker.stop())

describe('rate limits charge a whole publish', () => {
  it('refuses a batch larger than the key may send at once, even on a full bucket, and stores nothing of it', async () => {
    const key = await makeKey({ name: 'five-a-second', rules, rateEventsPerSec: 5 })
    const flood = await call(key, 'POST', '/v1/topics/lim.rate/events', {
      events: Array.from({ length: 10_000 }, (_, i) => ({ data: i })),
    })
    expect(flood.status).toBe(413)
    expect(flood.body.error).toMatchObject({ code: 'payload_too_large', details: { size: 10_000, limit: 5 } })
    expect(await readAll(broker.url, 'lim.rate', 0, 0, as(ADMIN))).toHaveLength(0)
    // the bucket was not touched by the refusal: a full second's worth goes, then the next waits
    const five = await call(key, 'POST', '/v1/topics/lim.rate/events', {
      events: Array.from({ length: 5 }, (_, i) => ({ data: i })),
    })
    expect(five.status).toBe(201)
    const sixth = await call(key, 'POST', '/v1/topics/lim.rate/events', { data: 6 })
    expect(sixth.status).toBe(429)
    expect(sixth.body.error.details.retryAfterMs).toBeGreaterThan(0)
    await sleep(1100)
    // a batch that fits the bucket but not what is left of it waits for the whole of it
    expect(
      (await call(key, 'POST', '/v1/topics/lim.rate/events', { events: [{ data: 1 }, { data: 2 }] })).status,
    ).toBe(201)
    const rest = await call(key, 'POST', '/v1/topics/lim.rate/events', {
      events: Array.from({ length: 4 }, (_, i) => ({ data: i })),
    })
    expect(rest.status).toBe(429)
    expect(await readAll(broker.url, 'lim.rate', 0, 0, as(ADMIN))).toHaveLength(7)
  })

  it('counts header bytes toward the byte rate', async () => {
    const key = await makeKey({ name: 'kilobyte-a-second', rules, rateBytesPerSec: 1000 })
    const heavy = { data: 1, headers: { blob: 'x'.repeat(600) } }
    expect((await call(key, 'POST', '/v1/topics/lim.bytes/events', heavy)).status).toBe(201)
    expect((await call(key, 'POST', '/v1/topics/lim.bytes/events', heavy)).status).toBe(429)
  })

  it('charges scheduled publishes when they are scheduled', async () => {
    const key = await makeKey({ name: 'scheduler', rules, rateEventsPerSec: 3 })
    const schedule = () =>
      call(key, 'POST', '/v1/topics/lim.later/scheduled', { event: { data: 'later' }, delayMs: 60_000 })
    for (let i = 0; i < 3; i++) expect((await schedule()).status).toBe(201)
    expect((await schedule()).status).toBe(429)
    expect((await call(key, 'POST', '/v1/topics/lim.later/events', { data: 'now' })).status).toBe(429)
  })
})

describe('quotas per key', () => {
  const topic = (key: string, name: string, partitions = 1) =>
    call(key, 'POST', '/v1/topics', { name, partitions })

  it('bounds the topics and partitions a key creates, by its own quotas or the broker default, and not an operator', async () => {
    const own = await makeKey({
      name: 'small-tenant',
      rules: [{ actions: ['publish', 'subscribe', 'admin'], topics: ['q1.>'] }],
      quotas: { topics: 2, partitions: 5 },
    })
    expect((await topic(own, 'q1.a', 2)).status).toBe(201)
    const tooWide = await topic(own, 'q1.b', 4)
    expect(tooWide.status).toBe(429)
    expect(tooWide.body.error).toMatchObject({
      code: 'quota_exceeded',
      details: { quota: 'partitions', limit: 5 },
    })
    expect((await topic(own, 'q1.b', 3)).status).toBe(201)
    const third = await topic(own, 'q1.c')
    expect(third.body.error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'topics', limit: 2 } })
    // growing its topics counts too
    const grown = await call(own, 'PATCH', '/v1/topics/q1.a', { partitions: 3 })
    expect(grown.body.error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'partitions' } })
    // a deleted topic frees its place
    expect((await call(own, 'DELETE', '/v1/topics/q1.b')).status).toBe(204)
    expect((await topic(own, 'q1.c')).status).toBe(201)

    // the broker's default (3 here), and creations at once do not slip past it
    const plain = await makeKey({
      name: 'default-tenant',
      rules: [{ actions: ['admin'], topics: ['q2.>'] }],
    })
    const racing = await Promise.all(Array.from({ length: 8 }, (_, i) => topic(plain, `q2.t${i}`)))
    expect(racing.filter((r) => r.status === 201)).toHaveLength(3)
    expect(racing.filter((r) => r.status === 429)).toHaveLength(5)
    // an operator is not bound
    for (let i = 0; i < 5; i++) expect((await topic(ADMIN, `q3.t${i}`)).status).toBe(201)
  })

  it('bounds subscriptions and publishes waiting for confirmations', async () => {
    const key = await makeKey({
      name: 'consumer-tenant',
      rules: [{ actions: ['publish', 'subscribe', 'admin'], topics: ['q4.>'] }],
      quotas: { subscriptions: 1, confirmations: 1 },
    })
    expect((await topic(key, 'q4.events')).status).toBe(201)
    const sub = (name: string) =>
      call(key, 'POST', '/v1/subscriptions', { name, topic: 'q4.events', mode: 'queue' })
    expect((await sub('q4.first')).status).toBe(201)
    expect((await sub('q4.second')).body.error).toMatchObject({
      code: 'quota_exceeded',
      details: { quota: 'subscriptions', limit: 1 },
    })
    const confirmed = (timeout: number) =>
      call(key, 'POST', `/v1/topics/q4.events/events?confirm=1&confirmTimeoutMs=${timeout}`, { data: 1 })
    const waiting = confirmed(1500)
    await sleep(300)
    const refused = await confirmed(100)
    expect(refused.status).toBe(429)
    expect(refused.body.error.details.quota).toBe('confirmations')
    expect((await waiting).status).toBe(504)
    // the wait ended: its place is free again
    expect((await confirmed(100)).status).toBe(504)
    // refused before anything was stored: two timed-out publishes are in the log, not three
    expect(await readAll(broker.url, 'q4.events', 0, 0, as(ADMIN))).toHaveLength(2)
  })

  it('bounds the rules a minted token carries, in number and in bytes', async () => {
    const key = await makeKey({ name: 'token-minter', rules })
    const mint = (body: unknown) => call(key, 'POST', '/v1/tokens', body)
    const rule = (topic: string) => ({ actions: ['subscribe'], topics: [topic] })
    expect((await mint({ rules: Array.from({ length: 20 }, (_, i) => rule(`lim.t${i}`)) })).status).toBe(201)
    const many = await mint({ rules: Array.from({ length: 21 }, (_, i) => rule(`lim.t${i}`)) })
    expect(many.status).toBe(400)
    expect(many.body.error.details.issues[0].path).toBe('rules')
    const wide = await mint({
      rules: [
        { actions: ['subscribe'], topics: Array.from({ length: 60 }, (_, i) => `lim.${'x'.repeat(30)}${i}`) },
      ],
    })
    expect(wide.status).toBe(400)
  })

  it('bounds the SSE streams and WebSocket connections a key holds open at once, and frees a place when one closes', async () => {
    const key = await makeKey({
      name: 'viewer-tenant',
      rules: [{ actions: ['subscribe'], topics: ['lim.>'] }],
      quotas: { streams: 2, connections: 2 },
    })
    const open = () => {
      const ac = new AbortController()
      const res = fetch(`${broker.url}/v1/topics/lim.rate/stream`, { headers: as(key), signal: ac.signal })
      return { res, close: () => ac.abort() }
    }
    const a = open()
    const b = open()
    expect((await a.res).status).toBe(200)
    expect((await b.res).status).toBe(200)
    const c = await fetch(`${broker.url}/v1/topics/lim.rate/stream`, { headers: as(key) })
    expect(c.status).toBe(429)
    expect(((await c.json()) as any).error).toMatchObject({
      code: 'quota_exceeded',
      details: { quota: 'streams' },
    })
    a.close()
    let again: Response | undefined
    for (let i = 0; i < 50 && again?.status !== 200; i++) {
      await sleep(50)
      again = await fetch(`${broker.url}/v1/topics/lim.rate/stream`, { headers: as(key) })
      if (again.status === 200) await again.body?.cancel()
    }
    expect(again?.status).toBe(200)
    b.close()

    const sockets = await Promise.all([0, 1, 2].map(() => rawSocket(broker.url)))
    for (const s of sockets) s.send({ op: 'hello', v: 1, token: key })
    const answers = await Promise.all(sockets.map((s) => s.next(1)))
    expect(answers.filter((f) => f.op === 'welcome')).toHaveLength(2)
    const refused = sockets[answers.findIndex((f) => f.op !== 'welcome')]!
    expect(answers.find((f) => f.op !== 'welcome')).toMatchObject({ op: 'error', code: 'quota_exceeded' })
    expect(await refused.closed).toBe(4429)
    // one goes: a new connection takes its place
    sockets[answers.findIndex((f) => f.op === 'welcome')]!.ws.close()
    await sleep(200)
    const next = await rawSocket(broker.url)
    next.send({ op: 'hello', v: 1, token: key })
    expect((await next.next(1)).op).toBe('welcome')
    for (const s of [...sockets, next]) s.ws.close()
  })
})
