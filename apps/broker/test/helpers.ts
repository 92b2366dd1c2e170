import { randomBytes } from 'node:crypto'
import { createClient, type QuestlogClient } from '@questlog/sdk-node'
import postgres from 'postgres'
import { afterAll, afterEach, beforeAll, inject } from 'vitest'
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
