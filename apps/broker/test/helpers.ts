import { randomBytes } from 'node:crypto'
import { createClient, type QuestlogClient } from '@questlog/sdk-node'
import postgres from 'postgres'
import { afterAll, afterEach, beforeAll, inject } from 'vitest'
import WebSocket from 'ws'
import { type Broker, createBroker } from '../src/broker'
import type { BrokerConfigInput } from '../src/config'

/** A new, empty database on the test server; returns its URL. */
export async function freshDatabase(): Promise<string> {
  const admin = inject('adminDatabaseUrl')
  const name = `ql_test_${randomBytes(6).toString('hex')}`
  const sql = postgres(admin, { max: 1, onnotice: () => {} })
  await sql.unsafe(`CREATE DATABASE ${name}`)
  await sql.end()
  const url = new URL(admin)
  url.pathname = `/${name}`
  return url.toString()
}

export async function startBroker(config: BrokerConfigInput = {}): Promise<Broker> {
  const databaseUrl = config.databaseUrl ?? (await freshDatabase())
  // suites that test authentication turn it on themselves
  return createBroker({ port: 0, logLevel: 'warn', auth: 'off', ...config, databaseUrl })
}

/** A broker for a describe block, and SDK clients on it that are closed after each test. */
export function brokerWithClients(config: BrokerConfigInput = {}) {
  let broker: Broker | undefined
  const clients: QuestlogClient[] = []
  beforeAll(async () => {
    broker = await startBroker(config)
  })
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
  })
  afterAll(async () => {
    await broker?.stop()
  })
  return {
    get broker(): Broker {
      if (!broker) throw new Error('the broker starts in beforeAll')
      return broker
    },
    /** A client of this broker, or with `options` of its own (closed after the test all the same). */
    client(options: Partial<Parameters<typeof createClient>[0]> = {}): QuestlogClient {
      const c = createClient({ brokers: [this.broker.url], ...options })
      clients.push(c)
      return c
    },
  }
}

export interface ApiResponse<T = any> {
  status: number
  body: T
  headers: Headers
}

/** One HTTP call to the broker; JSON in, JSON (or text) out. */
export async function api<T = any>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body !== undefined) {
    init.body =
      typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] ??= 'application/json'
  }
  const res = await fetch(base + path, init)
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {}
  return { status: res.status, body: parsed as T, headers: res.headers }
}

export async function createTopic(
  base: string,
  name: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  const res = await api(base, 'POST', '/v1/topics', { name, ...extra }, headers)
  if (res.status !== 201) throw new Error(`create topic failed: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

/** Reads a whole partition by offset pages. */
export async function readAll(
  base: string,
  topic: string,
  partition: number,
  from = 0,
  headers: Record<string, string> = {},
): Promise<any[]> {
  const out: any[] = []
  let next = String(from)
  for (;;) {
    const res = await api(
      base,
      'GET',
      `/v1/topics/${topic}/events?partition=${partition}&from=${next}&limit=1000`,
      undefined,
      headers,
    )
    if (res.status !== 200) throw new Error(`read failed: ${res.status} ${JSON.stringify(res.body)}`)
    out.push(...res.body.events)
    if (res.body.events.length === 0) return out
    next = res.body.next
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `what` until `ok` holds of its value, or `ms` have passed; returns the last value either way. */
export async function waitFor<T>(what: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await what()
    if (ok(v) || Date.now() > deadline) return v
    await sleep(50)
  }
}

/** One call of the tRPC admin API, as its HTTP wire format has it (queries GET, mutations POST). */
export async function trpcCall(base: string, kind: 'query' | 'mutation', path: string, input?: unknown) {
  const query =
    kind === 'query' && input !== undefined ? `?input=${encodeURIComponent(JSON.stringify(input))}` : ''
  const res = await fetch(`${base}/trpc/${path}${query}`, {
    method: kind === 'query' ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: kind === 'mutation' ? JSON.stringify(input) : undefined,
  })
  return { status: res.status, body: (await res.json()) as any }
}

/** Opens a raw socket and collects the broker's frames. */
export async function rawSocket(url: string) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/ws`)
  const frames: any[] = []
  // the broker's view of the cluster comes whenever it changes (a broker joins, leaves, or its health
  // moves far, as on a loaded machine): kept apart, so that `next(n)` counts answers to the test's frames
  const brokerFrames: any[] = []
  const waiters: Array<() => void> = []
  ws.on('message', (d) => {
    const frame = JSON.parse(d.toString())
    if (frame.op === 'brokers') brokerFrames.push(frame)
    else frames.push(frame)
    for (const w of waiters.splice(0)) w()
  })
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  const next = async (n: number) => {
    while (frames.length < n) await new Promise<void>((r) => waiters.push(r))
    return frames[n - 1]
  }
  return {
    ws,
    frames,
    brokerFrames,
    next,
    closed,
    send: (f: unknown) => ws.send(JSON.stringify(f)),
    /** A publish in columns: the header line, then the payloads' JSON array, as one binary message. */
    sendColumns: (header: object, payloads: string) =>
      ws.send(Buffer.from(`${JSON.stringify(header)}\n${payloads}`)),
  }
}

const ROW_OF_TOPIC = {
  // the partition's offset counter: every append takes it first
  partition:
    'SELECT 1 FROM ql_partitions WHERE topic_id = (SELECT id FROM ql_topics WHERE name = $1) FOR UPDATE',
  // the seq row of the topic's one producer: an append of its events waits for it at the end, events written
  producer:
    'SELECT 1 FROM ql_producers WHERE topic_id = (SELECT id FROM ql_topics WHERE name = $1) FOR UPDATE',
}

/** Holds a topic's row from another session; the returned function lets it go. */
export async function holdRow(sql: postgres.Sql, row: keyof typeof ROW_OF_TOPIC, topic: string) {
  const conn = await sql.reserve()
  await conn`BEGIN`
  const held = await conn.unsafe(ROW_OF_TOPIC[row], [topic])
  if (held.length !== 1) throw new Error(`expected one ${row} row of '${topic}', found ${held.length}`)
  return async () => {
    await conn`ROLLBACK`
    conn.release()
  }
}

/** The broker's backends running an append that waits for a lock, once there is one. */
export async function waitingAppends(sql: postgres.Sql): Promise<number[]> {
  for (;;) {
    const rows = await sql`SELECT pid FROM pg_stat_activity
                           WHERE wait_event_type = 'Lock' AND query LIKE '%ql_append%'`
    if (rows.length > 0) return rows.map((r) => r.pid as number)
    // (polled, not spun: the broker under test needs the same cores)
    await sleep(5)
  }
}

/** Cancels what those backends run: the append fails, the connection stays up. */
export async function cancelBackends(sql: postgres.Sql, pids: number[]): Promise<void> {
  await sql`SELECT pg_cancel_backend(pid) FROM unnest(${pids}::int[]) AS pid`
}
