import { once } from 'node:events'
import { connect } from 'node:net'
import { createClient, isQuestlogError } from '@questlog/sdk-node'
import pino from 'pino'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { type Broker, createBroker } from '../src/broker'
import { webSocketConnections } from '../src/ws/ws-route'
import { api, freshDatabase, sleep } from './helpers'

const ADMIN = `ql_sessadmin001_${'S'.repeat(43)}`
const RULES = [
  { effect: 'allow' as const, actions: ['publish' as const, 'subscribe' as const], topics: ['sess.>'] },
]
/** Every line the two brokers log, at trace level: no credential may be among them. */
const logged: string[] = []
/** Every credential this file uses. */
const secrets: string[] = [ADMIN]
let databaseUrl: string
let broker: Broker
/** A second broker on the same database: a revocation made there must reach sessions held here. */
let other: Broker

beforeAll(async () => {
  databaseUrl = await freshDatabase()
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logged.push(line) })
  const config = { port: 0, databaseUrl, auth: 'on' as const, adminKey: ADMIN, logLevel: 'trace' as const }
  broker = await createBroker(config, { logger })
  other = await createBroker(config, { logger })
  for (const name of ['sess.a', 'sess.b', 'sess.c', 'sess.d']) {
    expect((await asAdmin('POST', '/v1/topics', { name })).status).toBe(201)
  }
})
afterAll(async () => {
  await other?.stop()
  await broker?.stop()
})

const asAdmin = (method: string, path: string, body?: unknown) =>
  api(broker.url, method, path, body, { authorization: `Bearer ${ADMIN}` })

async function newKey(name: string): Promise<string> {
  const { key } = await broker.services.keys.create({ name, rules: RULES })
  secrets.push(key)
  return key
}

/** A browser token of `key` that lives `ttlSeconds`. */
async function newToken(key: string, ttlSeconds: number): Promise<{ token: string; expiresAt: number }> {
  const minted = broker.services.keys.mintToken(
    await broker.services.keys.authenticate(key),
    ttlSeconds,
    undefined,
    {
      rules: 20,
      bytes: 2048,
    },
  )
  secrets.push(minted.token)
  return { token: minted.token, expiresAt: Date.parse(minted.expiresAt) }
}

const until = async (ok: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await sleep(10)
  }
}

/** `p`, or a failure once `ms` have passed. */
const within = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms)),
  ])

interface WsSession {
  frames: Array<{ op: string; code?: string; message?: string }>
  closed: Promise<{ code: number; at: number }>
}

/** A raw WebSocket session: hello (with `token` if given), then a subscription to `topic`. */
async function wsSession(query: string, token: string | undefined, topic: string): Promise<WsSession> {
  const ws = new WebSocket(`${broker.url.replace('http', 'ws')}/v1/ws${query}`)
  const frames: WsSession['frames'] = []
  ws.on('message', (m) => frames.push(JSON.parse(String(m))))
  const closed = new Promise<{ code: number; at: number }>((resolve) =>
    ws.on('close', (code) => resolve({ code, at: Date.now() })),
  )
  await once(ws, 'open')
  ws.send(JSON.stringify({ op: 'hello', v: 1, ...(token ? { token } : {}) }))
  await until(() => frames.some((f) => f.op === 'welcome' || f.op === 'error'))
  if (frames.some((f) => f.op === 'welcome')) {
    ws.send(JSON.stringify({ op: 'subscribe', sid: 's1', topic }))
    await until(() => frames.some((f) => f.op === 'subscribed'))
  }
  return { frames, closed }
}

interface SseSession {
  status: number
  text: string
  endedAt?: number
}

/** A raw SSE stream, read as text until the broker ends it. */
async function sseSession(path: string, headers: Record<string, string> = {}): Promise<SseSession> {
  const s: SseSession = { status: 0, text: '' }
  const res = await fetch(broker.url + path, { headers })
  s.status = res.status
  const decoder = new TextDecoder()
  void (async () => {
    try {
      for await (const chunk of res.body!) s.text += decoder.decode(chunk as Uint8Array, { stream: true })
    } catch {}
    s.endedAt = Date.now()
  })()
  if (s.status === 200) await until(() => s.text.includes('retry:'))
  return s
}

/** The data of the stream's `event: error`, if it sent one. */
const sseError = (s: SseSession) => {
  const m = /event: error\ndata: (.*)\n/.exec(s.text)
  return m ? (JSON.parse(m[1]!) as { code: string; message: string }) : undefined
}

describe('sessions end when their right ends', () => {
  it('closes the WebSocket and SSE sessions of a key revoked on another broker within 2 s', async () => {
    const key = await newKey('revoked-later')
    const ws = await wsSession('', key, 'sess.a')
    const sse = await sseSession('/v1/topics/sess.a/stream', { authorization: `Bearer ${key}` })
    expect(sse.status).toBe(200)
    // the key still works for a while: both sessions are open and served
    await sleep(1200)
    expect(ws.frames.some((f) => f.op === 'close')).toBe(false)
    expect(sse.endedAt).toBeUndefined()

    const revoked = await api(other.url, 'DELETE', `/v1/keys/${key.split('_')[1]}`, undefined, {
      authorization: `Bearer ${ADMIN}`,
    })
    expect(revoked.status).toBe(204)
    const at = Date.now()
    const { code, at: closedAt } = await within(ws.closed, 5000)
    expect(code).toBe(4401)
    expect(closedAt - at).toBeLessThan(2000)
    expect(ws.frames.find((f) => f.op === 'error')).toMatchObject({
      code: 'unauthorized',
      message: 'this API key was revoked',
    })
    expect(ws.frames.find((f) => f.op === 'close')).toMatchObject({ code: 'unauthorized' })
    await until(() => sse.endedAt !== undefined, 3000)
    expect(sse.endedAt! - at).toBeLessThan(2000)
    expect(sseError(sse)).toEqual({ code: 'unauthorized', message: 'this API key was revoked' })
  })

  it('closes the sessions of a browser token (given in the query) within 2 s of its expiry', async () => {
    const key = await newKey('token-minter')
    const { token, expiresAt } = await newToken(key, 2)
    const ws = await wsSession(`?access_token=${token}`, undefined, 'sess.b')
    expect(ws.frames[0]).toMatchObject({ op: 'welcome' })
    const sse = await sseSession(`/v1/topics/sess.b/stream?access_token=${token}`)
    expect(sse.status).toBe(200)
    const { code, at } = await within(ws.closed, 5000)
    expect(code).toBe(4401)
    expect(at).toBeGreaterThanOrEqual(expiresAt)
    expect(at - expiresAt).toBeLessThan(2000)
    expect(ws.frames.find((f) => f.op === 'error')).toMatchObject({
      code: 'unauthorized',
      message: 'this token has expired',
    })
    await until(() => sse.endedAt !== undefined, 3000)
    expect(sse.endedAt! - expiresAt).toBeLessThan(2000)
    expect(sseError(sse)?.code).toBe('unauthorized')
  })

  it('the SDK ends with an AuthError on a fixed token, and renews a token function, losing no event', async () => {
    const key = await newKey('sdk-user')
    const fixed = (await newToken(key, 2)).token
    const dead = createClient({ brokers: [broker.url], token: fixed, backoff: { initialMs: 10, maxMs: 50 } })
    let ended: unknown
    const iterating = (async () => {
      for await (const _ of dead.subscribe('sess.c', { from: 'earliest' })) {
      }
    })()
    await within(iterating, 5000).catch((e) => {
      ended = e
    })
    expect(isQuestlogError(ended) && ended.code).toBe('unauthorized')
    expect((ended as Error).name).toBe('AuthError')
    const closed = await dead.closed()
    expect((closed as Error).name).toBe('AuthError')
    // no reconnecting with a credential known to be dead
    await sleep(500)
    expect(webSocketConnections(broker.services).size).toBe(0)

    let asked = 0
    const renewing = createClient({
      brokers: [broker.url],
      token: async () => {
        asked++
        return (await newToken(key, 2)).token
      },
      backoff: { initialMs: 10, maxMs: 50 },
    })
    const seen: number[] = []
    const sub = renewing.subscribe<number>('sess.c', { from: 'latest' })
    while (Object.keys(sub.positions).length === 0) await sleep(10)
    const reading = (async () => {
      for await (const e of sub) {
        seen.push(e.data)
        if (seen.length === 50) return
      }
    })()
    // 5 s of events: the sessions of two tokens or more end under it
    for (let n = 0; n < 50; n++) {
      expect((await asAdmin('POST', '/v1/topics/sess.c/events', { data: n })).status).toBe(201)
      await sleep(100)
    }
    await within(reading, 5000)
    expect(seen).toEqual(Array.from({ length: 50 }, (_, n) => n))
    expect(asked).toBeGreaterThanOrEqual(3)
    await renewing.close()
  })

  it('refuses API keys in the query string, and takes tokens there only on /stream and /v1/ws', async () => {
    const key = await newKey('query-user')
    const { token } = await newToken(key, 60)
    const cases: Array<[string, string]> = [
      [`/v1/topics/sess.d/stream?access_token=${key}`, 'API keys are not accepted in the query string'],
      [`/v1/topics/sess.d/events?access_token=${key}`, 'API keys are not accepted in the query string'],
      [`/v1/topics/sess.d/events?access_token=${token}`, 'access_token is accepted only by'],
      [`/v1/topics?access_token=${token}`, 'access_token is accepted only by'],
    ]
    // the headers only: a stream that was let in would never end
    const refusal = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(broker.url + path, { headers })
      if (res.status !== 401) await res.body?.cancel()
      const body =
        res.status === 401 ? ((await res.json()) as { error: { code: string; message: string } }) : undefined
      return { status: res.status, error: body?.error }
    }
    for (const [path, message] of cases) {
      const res = await refusal(path)
      expect(res.status, path).toBe(401)
      expect(res.error?.code).toBe('unauthorized')
      expect(res.error?.message).toContain(message)
    }
    // not even beside a good header: the key in the URL has leaked, the caller should hear of it
    const both = await refusal(`/v1/topics/sess.d/events?access_token=${key}`, {
      authorization: `Bearer ${key}`,
    })
    expect(both.status).toBe(401)
    const sse = await sseSession(`/v1/topics/sess.d/stream?access_token=${token}`)
    expect(sse.status).toBe(200)

    const refused = await wsSession(`?access_token=${key}`, undefined, 'sess.d')
    expect(refused.frames[0]).toMatchObject({ op: 'error', code: 'unauthorized' })
    expect(refused.frames[0]!.message).toContain('Authorization: Bearer')
    expect((await within(refused.closed, 5000)).code).toBe(4401)
    const taken = await wsSession(`?access_token=${token}`, undefined, 'sess.d')
    expect(taken.frames[0]).toMatchObject({ op: 'welcome' })
  })

  it('writes no credential to the log, even when a request fails unexpectedly', async () => {
    const key = await newKey('log-watcher')
    const { token } = await newToken(key, 60)
    // a request the broker cannot serve (its database lost a table under it) is logged with its URL
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
    await sql`ALTER TABLE ql_partitions RENAME TO ql_partitions_gone`
    try {
      const res = await api(broker.url, 'GET', `/v1/topics/sess.d/stream?from=latest&access_token=${token}`)
      expect(res.status).toBe(500)
    } finally {
      await sql`ALTER TABLE ql_partitions_gone RENAME TO ql_partitions`
      await sql.end()
    }
    // an HTTP request the parser refuses, its Authorization header included
    const url = new URL(broker.url)
    const socket = connect(Number(url.port), url.hostname)
    await once(socket, 'connect')
    socket.write(`GET /v1/topics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nBad Header\r\n\r\n`)
    const [answer] = await once(socket, 'data')
    expect(String(answer)).toMatch(/^HTTP\/1.1 400/)
    socket.destroy()
    await sleep(100)

    const failed = logged.map((l) => JSON.parse(l)).find((l) => l.msg === 'request failed')
    expect(failed.url).toBe('/v1/topics/sess.d/stream?from=latest&access_token=[redacted]')
    expect(logged.some((l) => l.includes('client error'))).toBe(true)
    // bytes are logged as arrays of numbers: read them as text too
    const all = logged
      .map((line) =>
        JSON.stringify(JSON.parse(line), (_, v) =>
          v?.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data).toString('latin1') : v,
        ),
      )
      .join('\n')
    for (const secret of secrets) {
      expect(all).not.toContain(secret)
      // a key's secret part alone is a leak too
      expect(all).not.toContain(secret.slice(-43))
    }
  })
})
