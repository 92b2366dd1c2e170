import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { Broker } from '../src/broker'
import { api, freshDatabase, sleep, startBroker } from './helpers'

// What a caller without a key, with a narrow key, or from a browser page can learn or provoke.

const ADMIN = `ql_admin0000001_${'A'.repeat(43)}`
const GAME = 'https://game.example'
const METRICS_TOKEN = 'scrape-me-with-this-token-0123456789'
const TOPIC = 'secret.guild.raid'
const SUB = 'secret-raid-watch'

const admin = { authorization: `Bearer ${ADMIN}` }
let broker: Broker
let sql: postgres.Sql
let narrow: string

/** A topic with traffic and a queue subscription that has handed out events: every tenant series has a value. */
async function seed(b: Broker): Promise<void> {
  expect((await api(b.url, 'POST', '/v1/topics', { name: TOPIC }, admin)).status).toBe(201)
  const sub = { name: SUB, topic: TOPIC, mode: 'queue', from: 'earliest' }
  expect((await api(b.url, 'POST', '/v1/subscriptions', sub, admin)).status).toBe(201)
  const events = { events: Array.from({ length: 5 }, (_, i) => ({ data: { i } })) }
  expect((await api(b.url, 'POST', `/v1/topics/${TOPIC}/events`, events, admin)).status).toBe(201)
  expect((await api(b.url, 'GET', `/v1/topics/${TOPIC}/events?partition=0`, undefined, admin)).status).toBe(
    200,
  )
  const pulled = await api(b.url, 'POST', `/v1/subscriptions/${SUB}/pull`, { member: 'w', max: 2 }, admin)
  expect(pulled.body.deliveries).toHaveLength(2)
  // the per-subscription gauges refresh every statsIntervalMs
  await sleep(500)
}

async function makeKey(b: Broker, name: string): Promise<string> {
  const res = await api(
    b.url,
    'POST',
    '/v1/keys',
    { name, rules: [{ actions: ['publish'], topics: ['game.>'] }] },
    admin,
  )
  expect(res.status).toBe(201)
  return res.body.key as string
}

const metrics = (b: Broker, headers: Record<string, string> = {}) =>
  api(b.url, 'GET', '/metrics', undefined, headers)

function families(
  text: string,
): Map<string, { metrics: Array<{ labels?: Record<string, string>; value?: string }> }> {
  // a real exposition-format parser: it throws on malformed output
  return new Map((parsePrometheusTextFormat(text) as any[]).map((f) => [f.name, f]))
}

function refusedCount(text: string, reason: string): number {
  const f = families(text).get('questlog_rejected_requests_total')
  return Number(f?.metrics.find((m) => m.labels?.reason === reason)?.value ?? 0)
}

const auditRows = async () => Number((await sql`SELECT count(*)::int AS n FROM ql_audit`)[0]!.n)

beforeAll(async () => {
  const databaseUrl = await freshDatabase()
  sql = postgres(databaseUrl, { max: 2, onnotice: () => {} })
  broker = await startBroker({
    databaseUrl,
    auth: 'on',
    adminKey: ADMIN,
    allowedOrigins: [GAME],
    statsIntervalMs: 100,
    retentionIntervalMs: 200,
  })
  await seed(broker)
  narrow = await makeKey(broker, 'narrow')
})
afterAll(async () => {
  await broker?.stop()
  await sql?.end()
})

describe('health and metrics', () => {
  it('without a metrics token, name no topic or subscription to anyone but an administrator', async () => {
    const anonymous = await metrics(broker)
    expect(anonymous.status).toBe(200)
    expect(anonymous.body).not.toContain('secret')
    const seen = families(anonymous.body)
    // process and broker-wide figures stay public
    expect(seen.get('questlog_process_resident_memory_bytes')).toBeDefined()
    expect(seen.get('questlog_publish_latency_seconds')).toBeDefined()
    expect(seen.get('questlog_events_in_total')).toBeUndefined()

    const health = await api(broker.url, 'GET', '/health')
    expect(health.status).toBe(200)
    expect(JSON.stringify(health.body)).not.toContain('secret')

    expect((await metrics(broker, { authorization: `Bearer ${narrow}` })).body).not.toContain('secret')
    expect((await metrics(broker, { authorization: 'Bearer not-a-key' })).status).toBe(401)

    const full = await metrics(broker, admin)
    expect(full.status).toBe(200)
    const all = families(full.body)
    expect(all.get('questlog_events_in_total')?.metrics.some((m) => m.labels?.topic === TOPIC)).toBe(true)
    expect(
      all.get('questlog_subscription_pending')?.metrics.some((m) => m.labels?.subscription === SUB),
    ).toBe(true)
    expect(all.get('questlog_process_resident_memory_bytes')).toBeDefined()
  })

  it('with a metrics token, serve every series to it or an admin key and refuse everyone else', async () => {
    const other = await startBroker({
      auth: 'on',
      adminKey: ADMIN,
      metricsToken: METRICS_TOKEN,
      statsIntervalMs: 100,
    })
    try {
      await seed(other)
      const key = await makeKey(other, 'narrow')
      const scraped = await metrics(other, { authorization: `Bearer ${METRICS_TOKEN}` })
      expect(scraped.status).toBe(200)
      expect(scraped.body).toContain(`topic="${TOPIC}"`)
      expect(scraped.body).toContain(`subscription="${SUB}"`)
      expect((await metrics(other, admin)).body).toContain(`topic="${TOPIC}"`)

      const anonymous = await metrics(other)
      expect(anonymous.status).toBe(401)
      expect(anonymous.body.error.code).toBe('unauthorized')
      expect(JSON.stringify(anonymous.body)).not.toContain('secret')
      expect((await metrics(other, { authorization: `Bearer ${METRICS_TOKEN}x` })).status).toBe(401)
      expect((await metrics(other, { authorization: `Bearer ${key}` })).status).toBe(403)
      // probes stay open for load balancers
      expect((await api(other.url, 'GET', '/health/ready')).status).toBe(200)
      expect(JSON.stringify((await api(other.url, 'GET', '/health')).body)).not.toContain('secret')
    } finally {
      await other.stop()
    }
  })
})

describe('browser origins', () => {
  const allowOrigin = (h: Headers) => h.get('access-control-allow-origin')

  it('answer CORS only for listed origins, on HTTP and SSE; null and others get no allow-origin', async () => {
    for (const origin of ['https://evil.example', 'null', `${GAME}.evil.example`, 'http://game.example']) {
      const preflight = await api(broker.url, 'OPTIONS', '/v1/topics', undefined, {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      })
      expect(allowOrigin(preflight.headers), `preflight from ${origin}`).toBeNull()
      expect(preflight.status).toBeLessThan(500)
      const simple = await api(broker.url, 'GET', '/v1/topics', undefined, { ...admin, origin })
      expect(simple.status).toBe(200)
      expect(allowOrigin(simple.headers), `GET from ${origin}`).toBeNull()
      const stream = await openStream(`/v1/topics/${TOPIC}/stream`, { ...admin, origin })
      expect(stream.status).toBe(200)
      expect(allowOrigin(stream.headers), `SSE from ${origin}`).toBeNull()
    }

    const preflight = await api(broker.url, 'OPTIONS', '/v1/topics', undefined, {
      origin: GAME,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type',
    })
    expect(preflight.status).toBe(204)
    expect(allowOrigin(preflight.headers)).toBe(GAME)
    expect(preflight.headers.get('vary')).toMatch(/origin/i)
    const simple = await api(broker.url, 'GET', '/v1/topics', undefined, { ...admin, origin: GAME })
    expect(allowOrigin(simple.headers)).toBe(GAME)
    const stream = await openStream(`/v1/topics/${TOPIC}/stream`, { ...admin, origin: GAME })
    expect(allowOrigin(stream.headers)).toBe(GAME)
    expect(stream.headers.get('vary')).toMatch(/origin/i)
  })

  it('with no origins configured, refuse every browser origin, WebSockets included', async () => {
    const other = await startBroker({ auth: 'on', adminKey: ADMIN })
    try {
      for (const origin of [GAME, 'null']) {
        const res = await api(other.url, 'GET', '/v1/topics', undefined, { ...admin, origin })
        expect(allowOrigin(res.headers)).toBeNull()
        expect(await handshake(other, origin)).toBe(403)
      }
      // servers and SDKs send no Origin
      expect(await handshake(other)).toBe(101)
    } finally {
      await other.stop()
    }
    expect(await handshake(broker, 'null')).toBe(403)
    expect(await handshake(broker, GAME)).toBe(101)
  })
})

/** Headers of an SSE response; the stream is closed at once. */
async function openStream(path: string, headers: Record<string, string>) {
  const ac = new AbortController()
  const res = await fetch(broker.url + path, { headers, signal: ac.signal })
  ac.abort()
  return res
}

/** The HTTP status of a WebSocket handshake to `/v1/ws` (101 when it opened). */
function handshake(b: Broker, origin?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${b.url.replace('http', 'ws')}/v1/ws`, origin ? { headers: { origin } } : {})
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
    ws.on('open', () => {
      ws.close()
      resolve(101)
    })
    ws.on('error', () => {})
  })
}

/** `total` requests, 50 at a time, each expected to answer `status`. */
async function flood(total: number, send: () => Promise<{ status: number }>, status: number): Promise<void> {
  let sent = 0
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (sent < total) {
        sent++
        expect((await send()).status).toBe(status)
      }
    }),
  )
}

async function stored(): Promise<number> {
  const res = await api(broker.url, 'GET', `/v1/topics/${TOPIC}`, undefined, admin)
  return (res.body.partitionInfo as Array<{ next: string }>).reduce((n, p) => n + Number(p.next), 0)
}
