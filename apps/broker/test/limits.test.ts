import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, readAll, sleep, startBroker } from './helpers'

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
  broker = await startBroker({ auth: 'on', adminKey: ADMIN })
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
