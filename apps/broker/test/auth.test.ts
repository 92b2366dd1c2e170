import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, sleep, startBroker } from './helpers'
import { SseClient } from './sse'

const ADMIN = `ql_admin0000001_${'A'.repeat(43)}`
let broker: Broker

const as = (key: string | undefined): Record<string, string> =>
  key ? { authorization: `Bearer ${key}` } : {}
const call = (key: string | undefined, method: string, path: string, body?: unknown) =>
  api(broker.url, method, path, body, as(key))

async function makeKey(body: Record<string, unknown>): Promise<string> {
  const res = await call(ADMIN, 'POST', '/v1/keys', body)
  expect(res.status).toBe(201)
  return res.body.key as string
}

beforeAll(async () => {
  broker = await startBroker({ auth: 'on', adminKey: ADMIN })
  for (const name of ['game.a.kills', 'game.b.kills', 'game.admin.bans']) {
    expect((await call(ADMIN, 'POST', '/v1/topics', { name })).status).toBe(201)
  }
})
afterAll(() => broker.stop())

describe('authentication', () => {
  it('refuses every endpoint without a valid key, before reading or writing anything', async () => {
    const before = (await call(ADMIN, 'GET', '/v1/topics/game.a.kills')).body.partitionInfo
    const expired = await makeKey({
      name: 'old',
      rules: [{ actions: ['publish'], topics: ['>'] }],
      expiresAt: new Date(Date.now() + 300).toISOString(),
    })
    const revoked = await makeKey({ name: 'gone', rules: [{ actions: ['publish'], topics: ['>'] }] })
    await call(ADMIN, 'DELETE', `/v1/keys/${revoked.split('_')[1]}`)
    await sleep(400)
    const requests: Array<[string, string, unknown?]> = [
      ['POST', '/v1/topics', { name: 'x' }],
      ['GET', '/v1/topics'],
      ['GET', '/v1/topics/game.a.kills'],
      ['PATCH', '/v1/topics/game.a.kills', { retentionMs: 5000 }],
      ['DELETE', '/v1/topics/game.a.kills'],
      ['POST', '/v1/topics/game.a.kills/events', { data: 1 }],
      ['GET', '/v1/topics/game.a.kills/events'],
      ['GET', '/v1/topics/game.a.kills/stream'],
      ['POST', '/v1/topics/game.a.kills/cloudevents', '{}'],
      ['POST', '/v1/topics/game.a.kills/scheduled', { event: { data: 1 }, delayMs: 1 }],
      ['POST', '/v1/subscriptions', { name: 's', topic: 'game.a.kills' }],
      ['POST', '/v1/subscriptions/s/pull', { member: 'm' }],
      ['POST', '/v1/replays', { topic: 'game.a.kills', fromOffset: 0, target: { topic: 'game.b.kills' } }],
      ['GET', '/v1/keys'],
      ['POST', '/v1/tokens', {}],
      ['GET', '/trpc/topics.list'],
    ]
    for (const key of [
      undefined,
      'nonsense',
      `ql_nokey0000000_${'B'.repeat(43)}`,
      expired,
      revoked,
      `${ADMIN.slice(0, -1)}B`,
    ]) {
      for (const [method, path, body] of requests) {
        const res = await call(key, method, path, body)
        expect(res.status, `${method} ${path} with ${key}`).toBe(401)
        expect(res.body.error.code).toBe('unauthorized')
      }
    }
    expect((await call(ADMIN, 'GET', '/v1/topics/game.a.kills')).body.partitionInfo).toEqual(before)
    // probes stay open for load balancers and scrapers
    expect((await call(undefined, 'GET', '/health/ready')).status).toBe(200)
    expect((await call(undefined, 'GET', '/metrics')).status).toBe(200)
  })
})

describe('authorization', () => {
  it('checks each action on topic patterns; deny beats allow; no rule means denied', async () => {
    const key = await makeKey({
      name: 'match-server',
      rules: [
        { actions: ['publish'], topics: ['game.*.kills', 'game.admin.>'] },
        { effect: 'deny', actions: ['publish'], topics: ['game.admin.*'] },
        { actions: ['subscribe'], topics: ['game.a.>'] },
      ],
    })
    expect((await call(key, 'POST', '/v1/topics/game.a.kills/events', { data: 1 })).status).toBe(201)
    expect((await call(key, 'POST', '/v1/topics/game.b.kills/events', { data: 1 })).status).toBe(201)
    const denied = await call(key, 'POST', '/v1/topics/game.admin.bans/events', { data: 1 })
    expect(denied.status).toBe(403)
    expect(denied.body.error.code).toBe('forbidden')
    expect((await call(key, 'GET', '/v1/topics/game.a.kills/events')).status).toBe(200)
    expect((await call(key, 'GET', '/v1/topics/game.b.kills/events')).status).toBe(403)
    // no admin rule: no topic management
    expect((await call(key, 'POST', '/v1/topics', { name: 'game.a.new' })).status).toBe(403)
    expect((await call(key, 'DELETE', '/v1/topics/game.a.kills')).status).toBe(403)
    expect((await call(key, 'GET', '/trpc/topics.list')).status).toBe(403)
  })

  it("keeps another tenant's topics and subscriptions invisible", async () => {
    const a = await makeKey({
      name: 'studio-a',
      rules: [{ actions: ['publish', 'subscribe', 'admin'], topics: ['game.a.>'] }],
    })
    const b = await makeKey({
      name: 'studio-b',
      rules: [{ actions: ['publish', 'subscribe', 'admin'], topics: ['game.b.>'] }],
    })
    expect((await call(a, 'GET', '/v1/topics')).body.topics.map((t: any) => t.name)).toEqual(['game.a.kills'])
    expect(
      (
        await call(a, 'POST', '/v1/subscriptions', {
          name: 'game.a.feed',
          topic: 'game.a.>',
          mode: 'queue',
          from: 'earliest',
        })
      ).status,
    ).toBe(201)
    await call(a, 'POST', '/v1/topics/game.a.kills/events', { data: 'a-secret' })
    const token = (await call(a, 'POST', '/v1/subscriptions/game.a.feed/pull', { member: 'm', max: 1 })).body
      .deliveries[0].token

    for (const [method, path, body] of [
      ['GET', '/v1/topics/game.a.kills'],
      ['GET', '/v1/topics/game.a.kills/events'],
      ['POST', '/v1/replays', { topic: 'game.a.kills', fromOffset: 0, target: { topic: 'game.b.kills' } }],
    ] as const) {
      const res = await call(b, method, path, body)
      expect(res.status, path).toBe(403)
      expect(JSON.stringify(res.body)).not.toContain('a-secret')
    }
    for (const [method, path, body] of [
      ['GET', '/v1/subscriptions/game.a.feed'],
      ['POST', '/v1/subscriptions/game.a.feed/pull', { member: 'thief' }],
      ['POST', '/v1/subscriptions/game.a.feed/ack', { tokens: [token] }],
      ['GET', '/v1/subscriptions/game.a.feed/dead-letters'],
    ] as const) {
      const res = await call(b, method, path, body)
      expect(res.status, path).toBe(404)
      expect(res.body.error.code).toBe('subscription_not_found')
    }
    expect((await call(b, 'GET', '/v1/subscriptions')).body.subscriptions).toEqual([])
    // the owner's pending delivery is untouched by the refused ack
    expect((await call(a, 'GET', '/v1/subscriptions/game.a.feed')).body.pending).toBe(1)
    expect((await call(a, 'POST', '/v1/subscriptions/game.a.feed/ack', { tokens: [token] })).status).toBe(200)
  })

  it('mints short-lived browser tokens within the key, usable for SSE, dead once the key is revoked', async () => {
    const backend = await makeKey({
      name: 'game-backend',
      rules: [{ actions: ['publish', 'subscribe'], topics: ['game.a.>'] }],
    })
    const tooWide = await call(backend, 'POST', '/v1/tokens', {
      rules: [{ actions: ['subscribe'], topics: ['game.>'] }],
    })
    expect(tooWide.status).toBe(400)
    expect(tooWide.body.error.details.issues[0].path).toBe('rules.0')
    const minted = await call(backend, 'POST', '/v1/tokens', {
      ttlSeconds: 60,
      rules: [{ actions: ['subscribe'], topics: ['game.a.kills'] }],
    })
    expect(minted.status).toBe(201)
    const token = minted.body.token as string
    expect((await call(token, 'POST', '/v1/topics/game.a.kills/events', { data: 1 })).status).toBe(403)
    // EventSource cannot set headers: the token travels in the query
    const sse = new SseClient(
      `${broker.url}/v1/topics/game.a.kills/stream?from=earliest&access_token=${token}`,
    )
    await sse.waitFor(1)
    expect(sse.status).toBe(200)
    sse.close()
    expect((await call(token, 'POST', '/v1/tokens', {})).status).toBe(401)
    await call(ADMIN, 'DELETE', `/v1/keys/${backend.split('_')[1]}`)
    await sleep(2100)
    expect((await call(token, 'GET', '/v1/topics/game.a.kills/events')).status).toBe(401)
  })

  it('rate-limits a key with 429 and Retry-After, and audits refusals and admin actions', async () => {
    const slow = await makeKey({
      name: 'noisy',
      rules: [{ actions: ['publish'], topics: ['game.a.>'] }],
      rateEventsPerSec: 20,
    })
    const first = await call(slow, 'POST', '/v1/topics/game.a.kills/events', {
      events: Array.from({ length: 20 }, (_, i) => ({ data: i })),
    })
    expect(first.status).toBe(201)
    const over = await call(slow, 'POST', '/v1/topics/game.a.kills/events', {
      events: Array.from({ length: 20 }, (_, i) => ({ data: i })),
    })
    expect(over.status).toBe(429)
    expect(over.body.error.code).toBe('rate_limited')
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    await sleep(1100)
    expect((await call(slow, 'POST', '/v1/topics/game.a.kills/events', { data: 'later' })).status).toBe(201)

    const audit = await call(ADMIN, 'GET', '/v1/audit?limit=1000')
    const outcomes = new Set(audit.body.entries.map((e: any) => e.outcome))
    expect(outcomes).toEqual(new Set(['ok', 'unauthenticated', 'forbidden']))
    expect(
      audit.body.entries.some((e: any) => e.action === 'POST /v1/keys' && e.keyId === 'admin0000001'),
    ).toBe(true)
    expect((await call(slow, 'GET', '/v1/audit')).status).toBe(403)
  })
})
