import { request } from 'node:http'
import { MAX_BODY_DEPTH, MAX_JSON_DEPTH } from '@questlog/protocol'
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

describe('tRPC errors', () => {
  const leaks = (body: unknown) => {
    const text = JSON.stringify(body)
    return /"stack"|\/src\/|\.[cm]?[jt]s:\d|node_modules|file:\/\//.test(text) ? text : null
  }
  const trpc = (path: string, init: RequestInit = {}) =>
    fetch(`${broker.url}/trpc/${path}`, init).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as any,
    }))

  it('carry no stack and no file path: bad input, forbidden, unknown procedure, internal error', async () => {
    const input = (v: unknown) => `?input=${encodeURIComponent(JSON.stringify(v))}`
    const cases = [
      [400, await trpc(`topics.get${input({ name: 5 })}`, { headers: admin })],
      [400, await trpc(`topics.get?input=%7Bnot-json`, { headers: admin })],
      [403, await trpc('topics.list', { headers: { authorization: `Bearer ${narrow}` } })],
      [404, await trpc('nope.nope', { headers: admin })],
      [
        207,
        await trpc(`topics.list,nope.nope?batch=1&input=${encodeURIComponent('{}')}`, { headers: admin }),
      ],
      [405, await trpc('topics.create', { headers: admin })],
    ] as const
    for (const [status, res] of cases) {
      expect(res.status).toBe(status)
      expect(leaks(res.body)).toBeNull()
    }

    // a failure nobody expected: the audit table is gone for a moment
    await sql`ALTER TABLE ql_audit RENAME TO ql_audit_away`
    let failed: { status: number; body: any }
    try {
      failed = await trpc(`audit.list${input({ limit: 5 })}`, { headers: admin })
    } finally {
      await sql`ALTER TABLE ql_audit_away RENAME TO ql_audit`
    }
    expect(failed.status).toBe(500)
    expect(leaks(failed.body)).toBeNull()
    expect(failed.body.error.message).toBe('internal error')
    expect(failed.body.error.data.questlog).toEqual({ code: 'internal', message: 'internal error' })
    expect(JSON.stringify(failed.body)).not.toContain('ql_audit')

    // a statement an operator cancels is the database's failure, retryable: it keeps its code and status
    const cancelled = await sql.begin(async (tx) => {
      await tx`LOCK TABLE ql_audit IN ACCESS EXCLUSIVE MODE`
      const call = trpc(`audit.list${input({ limit: 5 })}`, { headers: admin })
      for (let i = 0; i < 200; i++) {
        const [row] = await sql`SELECT count(pg_cancel_backend(pid))::int AS n FROM pg_stat_activity
          WHERE wait_event_type = 'Lock' AND query LIKE '%FROM ql_audit%ORDER BY id DESC%'`
        if (row!.n > 0) break
        await sleep(25)
      }
      return call
    })
    expect(cancelled.status).toBe(503)
    expect(cancelled.body.error.data.questlog.code).toBe('unavailable')
    expect(leaks(cancelled.body)).toBeNull()
  })
})

describe('malformed input', () => {
  const expectBadRequest = (res: { status: number; body: any }, what: string) => {
    expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(400)
    expect(typeof res.body.error.code, what).toBe('string')
    expect(['bad_request', 'validation_error']).toContain(res.body.error.code)
    expect(typeof res.body.error.message).toBe('string')
  }

  it('bad percent-escapes in the path and in ce-* headers are a 400 with the JSON error shape', async () => {
    expectBadRequest(await api(broker.url, 'GET', '/v1/topics/%E0%A4%A', undefined, admin), 'path')
    expectBadRequest(await api(broker.url, 'GET', '/v1/topics/%E0%A4%A/events', undefined, admin), 'path')
    // decoded once by the router, it is still a bad escape for the route's own decoding
    expectBadRequest(await api(broker.url, 'GET', '/v1/topics/%25E0%25A4%25A', undefined, admin), 'double')
    const ce = await api(broker.url, 'POST', `/v1/topics/${TOPIC}/cloudevents`, '{"score":1}', {
      ...admin,
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'evt-%E0%A4%A',
      'ce-source': '/match/1',
      'ce-type': 'game.score',
    })
    expectBadRequest(ce, 'ce-id')
  })

  it('tampered cursors are a 400, on reads, on SSE (Last-Event-ID) and over tRPC', async () => {
    const page = await api(broker.url, 'GET', `/v1/topics/${TOPIC}/events?limit=2`, undefined, admin)
    expect(page.status).toBe(200)
    const wire = JSON.parse(Buffer.from(page.body.cursor as string, 'base64url').toString('utf8'))
    const altered = [
      '!!!garbage',
      Buffer.from('not json').toString('base64url'),
      ...[
        { ...wire, s: 'yesterday' },
        { ...wire, s: 1e300 },
        { ...wire, u: -9e15 },
        { ...wire, k: { $ne: null } },
        { ...wire, y: 'game.(' },
        { ...wire, p: [[0, -1]] },
        { ...wire, p: [[0, 1.5]] },
        { ...wire, p: 'all' },
        { ...wire, t: 'x' },
      ].map((w) => Buffer.from(JSON.stringify(w)).toString('base64url')),
    ]
    for (const cursor of altered) {
      const read = await api(
        broker.url,
        'GET',
        `/v1/topics/${TOPIC}/events?cursor=${cursor}`,
        undefined,
        admin,
      )
      expectBadRequest(read, `cursor ${cursor}`)
      const sse = await api(broker.url, 'GET', `/v1/topics/${TOPIC}/stream`, undefined, {
        ...admin,
        'last-event-id': cursor,
      })
      expectBadRequest(sse, `Last-Event-ID ${cursor}`)
      const input = encodeURIComponent(JSON.stringify({ topic: TOPIC, query: { cursor } }))
      const viaTrpc = await fetch(`${broker.url}/trpc/events.read?input=${input}`, { headers: admin })
      const body = (await viaTrpc.json()) as any
      expect(viaTrpc.status, `tRPC cursor ${cursor}`).toBe(400)
      expect(body.error.data.questlog.code).toBe('validation_error')
    }
    // the untouched cursor still reads on
    const next = await api(
      broker.url,
      'GET',
      `/v1/topics/${TOPIC}/events?cursor=${page.body.cursor}`,
      undefined,
      admin,
    )
    expect(next.status).toBe(200)
    expect(next.body.events).toHaveLength(3)
  })

  it('JSON nested 10,000 deep is a 400, in a publish body and in a tRPC input; nothing is stored', async () => {
    const deepArray = `${'['.repeat(10_000)}1${']'.repeat(10_000)}`
    const deepObject = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`
    const before = await stored()
    for (const deep of [deepArray, deepObject]) {
      for (const body of [`{"data":${deep}}`, `{"events":[{"data":1},{"data":${deep}}]}`, deep]) {
        const res = await api(broker.url, 'POST', `/v1/topics/${TOPIC}/events`, body, admin)
        expectBadRequest(res, 'publish')
      }
      const viaTrpc = await fetch(`${broker.url}/trpc/events.publish`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: `{"topic":"${TOPIC}","events":[{"data":${deep}}]}`,
      })
      const body = (await viaTrpc.json()) as any
      expect(viaTrpc.status).toBe(400)
      expect(body.error.data.questlog.code).toBe('bad_request')
      expect(body.error.message).toMatch(/nest/)
    }
    // CloudEvents bodies are read by their route, not by the JSON body parser
    const structured = `{"specversion":"1.0","id":"e1","source":"/s","type":"game.x","data":${deepArray}}`
    const ce = await api(broker.url, 'POST', `/v1/topics/${TOPIC}/cloudevents`, structured, {
      ...admin,
      'content-type': 'application/cloudevents+json',
    })
    expectBadRequest(ce, 'structured CloudEvent')
    expect(await stored()).toBe(before)

    // the limit is a depth, not a stack size: a body past MAX_BODY_DEPTH levels is refused, ordinary depth goes in
    const nested = (n: number) => `${'['.repeat(n)}1${']'.repeat(n)}`
    const tooDeep = await api(
      broker.url,
      'POST',
      `/v1/topics/${TOPIC}/events`,
      `{"data":${nested(300)}}`,
      admin,
    )
    expectBadRequest(tooDeep, 'publish 300 deep')
    expect(tooDeep.body.error.message).toContain(String(MAX_BODY_DEPTH))
    const tooDeepTrpc = await fetch(`${broker.url}/trpc/events.publish`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: `{"topic":"${TOPIC}","events":[{"data":${nested(300)}}]}`,
    })
    expect(tooDeepTrpc.status).toBe(400)
    expect(await stored()).toBe(before)
    // a payload is held to MAX_JSON_DEPTH itself, and refused by its field's path
    const deepPayload = await api(
      broker.url,
      'POST',
      `/v1/topics/${TOPIC}/events`,
      `{"data":${nested(MAX_JSON_DEPTH + 1)}}`,
      admin,
    )
    expect(deepPayload.status).toBe(400)
    expect(deepPayload.body.error.details.issues[0].path).toBe('data')
    const fine = await api(
      broker.url,
      'POST',
      `/v1/topics/${TOPIC}/events`,
      `{"data":${nested(MAX_JSON_DEPTH)}}`,
      admin,
    )
    expect(fine.status).toBe(201)
  })
})

describe('the audit log', () => {
  it('sums up a flood of refusals instead of writing a row each, and counts them in /metrics', async () => {
    const rowsBefore = await auditRows()
    const countedBefore = refusedCount((await metrics(broker)).body, 'unauthorized')
    const forbiddenBefore = refusedCount((await metrics(broker)).body, 'forbidden')
    await flood(2000, () => api(broker.url, 'GET', '/v1/topics/game.x/events'), 401)
    await flood(
      500,
      () => api(broker.url, 'GET', '/v1/keys', undefined, { authorization: `Bearer ${narrow}` }),
      403,
    )
    // one row for each source's first refusal
    expect((await auditRows()) - rowsBefore).toBeLessThanOrEqual(3)
    const after = (await metrics(broker)).body
    expect(refusedCount(after, 'unauthorized') - countedBefore).toBeGreaterThanOrEqual(2000)
    expect(refusedCount(after, 'forbidden') - forbiddenBefore).toBeGreaterThanOrEqual(500)

    // a credential naming a key (revoked, expired, made up) is a source of its own: its first refusal is on record
    const madeUp = `ql_madeupkey001_${'M'.repeat(43)}`
    const claimed = await api(broker.url, 'GET', '/v1/topics', undefined, {
      authorization: `Bearer ${madeUp}`,
    })
    expect(claimed.status).toBe(401)
    // written once the answer is out
    await expect
      .poll(
        async () =>
          (
            await sql`SELECT outcome, key_id FROM ql_audit WHERE details->>'claimedKeyId' = 'madeupkey001'`
          )[0],
      )
      .toEqual({ outcome: 'unauthenticated', key_id: null })

    // at the end of the window, one summary per source holds the rest
    await sleep(200) // a refusal is tallied just after its answer is sent
    await broker.services.audit.flush()
    const rows = await sql`SELECT outcome, action, details FROM ql_audit ORDER BY id DESC LIMIT 10`
    const summary = (outcome: string) =>
      rows.find((r) => r.outcome === outcome && r.action === 'refused requests (summary)')?.details
    expect(Number(summary('unauthenticated')?.count)).toBeGreaterThanOrEqual(1999)
    expect(Number(summary('forbidden')?.count)).toBeGreaterThanOrEqual(499)
    expect((await auditRows()) - rowsBefore).toBeLessThanOrEqual(7)
  })

  it('keeps rows bounded when the refusals come from ever new addresses', async () => {
    await broker.services.audit.flush()
    const [{ last }] = (await sql`SELECT coalesce(max(id), 0)::int AS last FROM ql_audit`) as unknown as [
      { last: number },
    ]
    const added = () => sql`SELECT action, details FROM ql_audit WHERE id > ${last}`
    // 400 loopback addresses, two refusals each
    const sources = Array.from({ length: 400 }, (_, i) => `127.0.${1 + Math.floor(i / 200)}.${1 + (i % 200)}`)
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < sources.length; i += 50) {
        const statuses = await Promise.all(
          sources.slice(i, i + 50).map((from) => getFrom(from, '/v1/topics')),
        )
        expect(statuses.every((st) => st === 401)).toBe(true)
      }
    }
    // a row for each of the first 256 sources, one for all the others
    expect((await added()).length).toBeLessThanOrEqual(257)
    await sleep(200) // a refusal is tallied just after its answer is sent
    await broker.services.audit.flush()
    const rows = await added()
    expect(rows.length).toBeLessThanOrEqual(2 * 257)
    // the summaries still account for every refusal
    const counted = rows.reduce(
      (n, r) =>
        n + (r.action === 'refused requests (summary)' ? Number((r.details as { count: number }).count) : 1),
      0,
    )
    expect(counted).toBe(800)
  })

  it('deletes rows older than the retention in the background', async () => {
    const old = await sql`INSERT INTO ql_audit (at, action, target, outcome, details)
      VALUES (now() - interval '91 days', 'POST /v1/keys', '/v1/keys', 'ok', '{}'),
             (now() - interval '400 days', 'POST /v1/keys', '/v1/keys', 'ok', '{}') RETURNING id`
    const kept = await sql`INSERT INTO ql_audit (at, action, target, outcome, details)
      VALUES (now() - interval '89 days', 'POST /v1/keys', '/v1/keys', 'ok', '{}') RETURNING id`
    const ids = (rows: readonly Record<string, unknown>[]) => rows.map((r) => String(r.id))
    const deadline = Date.now() + 10_000
    let left = old.length
    while (left > 0 && Date.now() < deadline) {
      await sleep(100)
      left = (await sql`SELECT id FROM ql_audit WHERE id IN ${sql(ids(old))}`).length
    }
    expect(left).toBe(0)
    expect(await sql`SELECT id FROM ql_audit WHERE id IN ${sql(ids(kept))}`).toHaveLength(1)
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

/** The status of a GET sent from the local address `from` (any 127.x.y.z reaches the broker). */
function getFrom(from: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${broker.url}${path}`, { localAddress: from, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
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
