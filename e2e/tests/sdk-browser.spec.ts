import { execFileSync } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, type Page, test } from '@playwright/test'
import {
  type Broker,
  createBroker,
  type EmbeddedDatabase,
  freePort,
  startEmbeddedPostgres,
} from '@questlog/broker'
import { createClient } from '@questlog/sdk-node'

const here = path.dirname(fileURLToPath(import.meta.url))
const fixtureDir = path.resolve(here, '../fixtures/sdk-browser')
const sdkDir = path.resolve(here, '../../packages/sdk-browser')

// every request of the page carries it: on the WebSocket hello, as a Bearer header, and on SSE URLs
const KEY = `ql_sdkbrowser01_${'k'.repeat(43)}`

// This suite restarts its broker to cut the browser's connections, so it runs its own
// broker and database rather than the shared stack of global-setup.ts.
let dir: string
let db: EmbeddedDatabase
let broker: Broker
let brokerPort: number
let pages: Server
let pagesUrl: string

async function startOwnBroker(): Promise<Broker> {
  // the fixture page is a browser game on another origin: the broker lets that origin in, and only it
  return createBroker({
    port: brokerPort,
    databaseUrl: db.url,
    logLevel: 'warn',
    auth: 'on',
    adminKey: KEY,
    allowedOrigins: [pagesUrl],
  })
}

/** Stops the broker and starts it again on the same port and database: every connection drops. */
async function restartBroker(): Promise<void> {
  await broker.stop()
  broker = await startOwnBroker()
}

async function http<T = unknown>(
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${broker.url}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as T }
}

async function storedData(topic: string): Promise<unknown[]> {
  const res = await http<{ events: Array<{ data: unknown }> }>(
    'GET',
    `/v1/topics/${topic}/events?partition=0&from=0&limit=1000`,
  )
  return res.body.events.map((e) => e.data)
}

/** Every event of a topic, partition by partition, in offset order. */
async function readTopic(
  topic: string,
  partitions: number,
): Promise<Array<{ partition: number; offset: string; key: string; data: any }>> {
  const out = []
  for (let p = 0; p < partitions; p++) {
    let from = '0'
    for (;;) {
      const res = await http<{ events: any[]; next: string }>(
        'GET',
        `/v1/topics/${topic}/events?partition=${p}&from=${from}&limit=1000`,
      )
      if (res.body.events.length === 0) break
      out.push(...res.body.events)
      from = res.body.next
    }
  }
  return out
}

async function storedCount(topic: string): Promise<number> {
  const res = await http<{ partitionInfo?: Array<{ next: string }> }>('GET', `/v1/topics/${topic}`)
  return (res.body.partitionInfo ?? []).reduce((sum, p) => sum + Number(p.next), 0)
}

/** Opens the fixture page with a browser token of the key, as a game's backend would hand one to its page. */
async function openFixture(page: Page, transport: string, extra = ''): Promise<void> {
  const minted = await http<{ token: string }>('POST', '/v1/tokens', { ttlSeconds: 3600 })
  expect(minted.status).toBe(201)
  const token = minted.body.token
  const query = `broker=${encodeURIComponent(broker.url)}&token=${token}&transport=${transport}${extra}`
  await page.goto(`${pagesUrl}/index.html?${query}`)
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
}

/** What the fixture page puts on `window.questlog`. */
interface Fixture {
  mode: string
  received: unknown[]
  states: string[]
  subscribe(topic: string, from: string): void
  publishAll(topic: string, items: unknown[]): Promise<number>
  enqueue(topic: string, items: unknown[]): number
  publishKeyed(topic: string, total: number, keys: number): Promise<{ stored: number; duplicates: number }>
  openTable(topic: string): Promise<number>
  tableEntries(): Array<[string, unknown]>
  tableChanges: number
}
type Win = { questlog: Fixture }
/** A second client the request/reply test makes in the page, from the same bundle. */
type RpcWin = {
  rpcBus: {
    request(subject: string, data: unknown, o: { timeoutMs: number }): Promise<unknown>
    respond(subject: string, handler: (data: unknown) => unknown): Promise<unknown>
    close(): Promise<void>
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ n: from + i }))

test.describe.configure({ mode: 'serial' })

test.beforeAll(async () => {
  execFileSync(process.execPath, ['build.mjs'], { cwd: sdkDir, stdio: 'ignore' })
  dir = await mkdtemp(path.join(os.tmpdir(), 'questlog-sdk-browser-'))
  // the server runs as the unprivileged postgres user when we are root: it must reach its folder
  await chmod(dir, 0o755)
  db = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg') })
  brokerPort = await freePort()
  const pagesPort = await freePort()
  pagesUrl = `http://127.0.0.1:${pagesPort}`
  broker = await startOwnBroker()

  // the fixture page and the SDK bundle, from another origin than the broker, as a game would be
  const files: Record<string, { file: string; type: string }> = {
    '/index.html': { file: path.join(fixtureDir, 'index.html'), type: 'text/html' },
    '/questlog.js': { file: path.join(sdkDir, 'dist/questlog.js'), type: 'text/javascript' },
    '/questlog.js.map': { file: path.join(sdkDir, 'dist/questlog.js.map'), type: 'application/json' },
  }
  pages = createServer(async (req, res) => {
    const entry = files[(req.url ?? '').split('?')[0]!]
    if (!entry) return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': entry.type }).end(await readFile(entry.file))
  })
  await new Promise<void>((resolve) => pages.listen(pagesPort, '127.0.0.1', resolve))
})

test.afterAll(async () => {
  await new Promise((resolve) => pages?.close(resolve))
  await broker?.stop()
  await db?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

test('over WebSocket, a page publishes and receives live events, and resumes without gaps after a forced disconnect', async ({
  page,
}) => {
  expect((await http('POST', '/v1/topics', { name: 'browser.feed' })).status).toBe(201)
  await openFixture(page, 'websocket')
  expect(await page.evaluate(() => (globalThis as unknown as Win).questlog.mode)).toBe('websocket')
  await page.evaluate(() => (globalThis as unknown as Win).questlog.subscribe('browser.feed', 'earliest'))

  expect(
    await page.evaluate(
      (items) => (globalThis as unknown as Win).questlog.publishAll('browser.feed', items),
      range(1, 25),
    ),
  ).toBe(25)
  await expect(page.locator('#count')).toHaveText('25')
  await expect(page.locator('#status')).toHaveText('open')

  await restartBroker()
  // published while the page is still reconnecting: it must pick them up from its cursor
  expect(
    (
      await http('POST', '/v1/topics/browser.feed/events', {
        events: range(26, 50).map((data) => ({ data })),
      })
    ).status,
  ).toBe(201)
  await expect(page.locator('#status')).toHaveText('open', { timeout: 15_000 })
  expect(
    await page.evaluate(
      (items) => (globalThis as unknown as Win).questlog.publishAll('browser.feed', items),
      range(51, 60),
    ),
  ).toBe(10)
  await expect(page.locator('#count')).toHaveText('60')

  const received = await page.evaluate(() => (globalThis as unknown as Win).questlog.received)
  expect(received).toEqual(range(1, 60))
  expect(await page.evaluate(() => (globalThis as unknown as Win).questlog.states)).toContain('reconnecting')
  expect(await storedData('browser.feed')).toEqual(range(1, 60))
})

test('over SSE and HTTP, a page publishes and receives live events, and resumes after a forced disconnect', async ({
  page,
}) => {
  expect((await http('POST', '/v1/topics', { name: 'browser.sse' })).status).toBe(201)
  await openFixture(page, 'sse')
  expect(await page.evaluate(() => (globalThis as unknown as Win).questlog.mode)).toBe('sse')
  await page.evaluate(() => (globalThis as unknown as Win).questlog.subscribe('browser.sse', 'earliest'))

  expect(
    await page.evaluate(
      (items) => (globalThis as unknown as Win).questlog.publishAll('browser.sse', items),
      range(1, 20),
    ),
  ).toBe(20)
  await expect(page.locator('#count')).toHaveText('20')

  await restartBroker()
  expect(
    (await http('POST', '/v1/topics/browser.sse/events', { events: range(21, 40).map((data) => ({ data })) }))
      .status,
  ).toBe(201)
  await expect(page.locator('#count')).toHaveText('40', { timeout: 15_000 })
  expect(await page.evaluate(() => (globalThis as unknown as Win).questlog.received)).toEqual(range(1, 40))
  expect(await storedData('browser.sse')).toEqual(range(1, 40))
})

test('with WebSockets blocked, auto falls back to SSE + HTTP and still publishes and receives', async ({
  page,
}) => {
  expect((await http('POST', '/v1/topics', { name: 'browser.fallback' })).status).toBe(201)
  // what a proxy that refuses WebSocket upgrades looks like to the page
  let refused = 0
  await page.routeWebSocket(/\/v1\/ws/, (ws) => {
    refused++
    ws.close({ code: 1011, reason: 'blocked' })
  })
  await openFixture(page, 'auto', '&fallback=2')
  await page.evaluate(() => (globalThis as unknown as Win).questlog.subscribe('browser.fallback', 'earliest'))
  expect(
    await page.evaluate(
      (items) => (globalThis as unknown as Win).questlog.publishAll('browser.fallback', items),
      range(1, 10),
    ),
  ).toBe(10)
  await expect(page.locator('#count')).toHaveText('10')
  expect(await page.evaluate(() => (globalThis as unknown as Win).questlog.mode)).toBe('sse')
  expect(refused).toBeGreaterThanOrEqual(2)
  expect(await page.evaluate(() => (globalThis as unknown as Win).questlog.received)).toEqual(range(1, 10))
  expect(await storedData('browser.fallback')).toEqual(range(1, 10))
})

test('queued events are sent with keepalive requests when the page is left', async ({ page }) => {
  expect((await http('POST', '/v1/topics', { name: 'browser.unload' })).status).toBe(201)
  // a batch lingers a minute, so nothing leaves unless the page-hide flush sends it
  await openFixture(page, 'websocket', '&linger=60000')
  await expect(page.locator('#status')).toHaveText('open')
  expect(
    await page.evaluate(
      (items) => (globalThis as unknown as Win).questlog.enqueue('browser.unload', items),
      range(1, 30),
    ),
  ).toBe(30)
  await page.waitForTimeout(300)
  expect(await storedData('browser.unload')).toEqual([])

  await page.goto('about:blank')
  await expect.poll(() => storedData('browser.unload'), { timeout: 10_000 }).toEqual(range(1, 30))
})

test('10,000 events published from the page through two broker restarts are stored exactly once, in order per key', async ({
  page,
}) => {
  test.setTimeout(120_000)
  expect((await http('POST', '/v1/topics', { name: 'browser.bulk', partitions: 4 })).status).toBe(201)
  await openFixture(page, 'websocket', '&batch=200')
  await expect(page.locator('#status')).toHaveText('open')
  const publishing = page.evaluate(() =>
    (globalThis as unknown as Win).questlog.publishKeyed('browser.bulk', 10_000, 50),
  )

  for (const mark of [2500, 6000]) {
    while ((await storedCount('browser.bulk')) < mark) await new Promise((r) => setTimeout(r, 20))
    await restartBroker()
  }
  const result = await publishing
  expect(result.stored).toBe(10_000)
  expect(
    await page.evaluate(
      () => (globalThis as unknown as Win).questlog.states.filter((s) => s === 'reconnecting').length,
    ),
  ).toBeGreaterThanOrEqual(2)

  const stored = await readTopic('browser.bulk', 4)
  expect(stored).toHaveLength(10_000)
  expect(new Set(stored.map((e) => e.data.seq)).size).toBe(10_000)
  const lastSeq = new Map<string, number>()
  for (const e of stored) {
    // within a partition the events are in offset order; each key lives in one partition
    expect(e.data.seq).toBeGreaterThan(lastSeq.get(e.key) ?? -1)
    lastSeq.set(e.key, e.data.seq)
  }
  expect(lastSeq.size).toBe(50)
})

test('over WebSocket, a page answers requests from a game server and asks its own', async ({ page }) => {
  await openFixture(page, 'websocket')
  await page.evaluate(
    async ({ brokerUrl, key }) => {
      const bundle = '/questlog.js'
      const { createClient } = await import(bundle)
      const bus = createClient({ brokers: [brokerUrl], token: key, transport: 'websocket' })
      ;(globalThis as unknown as RpcWin).rpcBus = bus
      await bus.respond('browser.rpc.echo', (data: unknown) => ({ echoed: data, from: 'page' }))
    },
    { brokerUrl: broker.url, key: KEY },
  )
  const server = createClient({ brokers: [broker.url], token: KEY })
  try {
    expect(await server.request('browser.rpc.echo', { n: 7 }, { timeoutMs: 10_000 })).toEqual({
      echoed: { n: 7 },
      from: 'page',
    })
    await server.respond<{ n: number }, number>('browser.rpc.score', ({ n }) => n * 10)
    expect(
      await page.evaluate(() =>
        (globalThis as unknown as RpcWin).rpcBus.request(
          'browser.rpc.score',
          { n: 4 },
          { timeoutMs: 10_000 },
        ),
      ),
    ).toBe(40)
    const nobody = await page.evaluate(() =>
      (globalThis as unknown as RpcWin).rpcBus.request('browser.rpc.nobody', {}, { timeoutMs: 10_000 }).then(
        () => 'answered',
        (e: { name: string; code: string }) => [e.name, e.code],
      ),
    )
    expect(nobody).toEqual(['NoRespondersError', 'no_responders'])
  } finally {
    await server.close()
    await page.evaluate(() => (globalThis as unknown as RpcWin).rpcBus.close())
  }
})

/** The page's presence client, from the same bundle. */
type PresenceWin = {
  lobby: {
    enter(info: unknown): Promise<void>
    members(): Promise<Array<{ id: string; info: unknown }>>
  }
  seen: string[]
}

test('presence: a page with a browser token enters a lobby and watches it beside a Node game server; closing the tab leaves', async ({
  browser,
}) => {
  const minted = await http<{ token: string }>('POST', '/v1/tokens', {
    ttlSeconds: 600,
    rules: [{ actions: ['presence'], topics: ['lobby.>'] }],
  })
  expect(minted.status).toBe(201)
  const page = await (await browser.newContext()).newPage()
  await openFixture(page, 'websocket')
  await page.evaluate(
    async ({ brokerUrl, token }) => {
      const bundle = '/questlog.js'
      const { createClient } = await import(bundle)
      const bus = createClient({ brokers: [brokerUrl], token, transport: 'websocket' })
      const lobby = bus.presence('lobby.browser', { member: 'page-player', ttlMs: 5000 })
      const win = globalThis as unknown as PresenceWin
      win.lobby = lobby
      win.seen = []
      await lobby.enter({ name: 'Page' })
      void (async () => {
        for await (const c of lobby) win.seen.push(`${c.type}:${c.member.id}`)
      })()
    },
    { brokerUrl: broker.url, token: minted.body.token },
  )
  const server = createClient({ brokers: [broker.url], token: KEY })
  try {
    const lobby = server.presence<{ name: string }>('lobby.browser', { member: 'server-bot' })
    const ids = async () => (await lobby.members()).map((m) => `${m.id}=${m.info?.name}`).sort()
    await expect.poll(ids, { timeout: 5000 }).toEqual(['page-player=Page'])
    await lobby.enter({ name: 'Bot' })
    await expect
      .poll(() =>
        page.evaluate(async () =>
          (await (globalThis as unknown as PresenceWin).lobby.members()).map((m) => m.id).sort(),
        ),
      )
      .toEqual(['page-player', 'server-bot'])
    await lobby.leave()
    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as PresenceWin).seen))
      .toEqual(['join:server-bot', 'leave:server-bot'])
    // the tab goes away without a word: its member leaves with its connection
    await page.context().close()
    await expect.poll(ids, { timeout: 5000 }).toEqual([])
  } finally {
    await server.close()
  }
})

for (const transport of ['websocket', 'sse'] as const) {
  test(`over ${transport}, bus.table() in the page and in Node show the log's state after a broker restart, without gaps`, async ({
    page,
  }) => {
    const topic = `browser.profiles.${transport}`
    const created = await http('POST', '/v1/topics', { name: topic, cleanup: 'compact', partitions: 3 })
    expect(created.status).toBe(201)
    const state = new Map<string, { v: number }>()
    let v = 0
    const round = async (keys: number, removeEvery = 0) => {
      const events = Array.from({ length: keys }, (_, k) => {
        const key = `player-${k}`
        const remove = removeEvery > 0 && k % removeEvery === 0 && state.has(key)
        const data = remove ? null : { v: ++v }
        if (data) state.set(key, data)
        else state.delete(key)
        return { key, data }
      })
      expect((await http('POST', `/v1/topics/${topic}/events`, { events })).status).toBe(201)
      return events.length
    }
    for (let r = 0; r < 5; r++) await round(120, r === 3 ? 5 : 0)
    const sorted = () => [...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

    await openFixture(page, transport)
    expect(await page.evaluate((t) => (globalThis as unknown as Win).questlog.openTable(t), topic)).toBe(
      state.size,
    )
    expect(await page.evaluate(() => (globalThis as unknown as Win).questlog.tableEntries())).toEqual(
      sorted(),
    )
    const node = createClient({ brokers: [broker.url], token: KEY })
    const nodeTable = node.table<{ v: number }>(topic)
    await nodeTable.ready

    let sent = await round(120)
    await restartBroker()
    // published while both are reconnecting, then after
    sent += await round(120, 4)
    await expect(page.locator('#status')).toHaveText('open', { timeout: 15_000 })
    sent += await round(60)
    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as Win).questlog.tableChanges), {
        timeout: 30_000,
      })
      .toBe(sent)
    expect(await page.evaluate(() => (globalThis as unknown as Win).questlog.tableEntries())).toEqual(
      sorted(),
    )
    await expect.poll(() => nodeTable.size, { timeout: 30_000 }).toBe(state.size)
    expect([...nodeTable].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(sorted())
    // the log's own snapshot says the same
    const snap = await http<{ events: Array<{ key: string; data: unknown }>; page: string | null }>(
      'GET',
      `/v1/topics/${topic}/snapshot?limit=1000`,
    )
    expect(snap.body.page).toBeNull()
    expect(
      snap.body.events.map((e) => [e.key, e.data]).sort(([a], [b]) => (String(a) < String(b) ? -1 : 1)),
    ).toEqual(sorted())
    nodeTable.close()
    await node.close()
  })
}
