import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, freshDatabase, sleep, startBroker, waitFor } from './helpers'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** An HTTP endpoint on a loopback address that counts what reaches it. */
async function endpoint(handler: Handler, host = '127.0.0.1') {
  const hits: string[] = []
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '')
    req.resume()
    req.on('end', () => handler(req, res))
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const { port } = server.address() as AddressInfo
  return {
    hits,
    port,
    url: `http://${host}:${port}/hook`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

async function attempts(broker: Broker, sub: string): Promise<any[]> {
  return (await api(broker.url, 'GET', `/v1/subscriptions/${sub}/webhook`)).body.attempts ?? []
}

const hook = (url: string, extra: Record<string, unknown> = {}) => ({
  url,
  retryBackoffMs: [100],
  failureThreshold: 100,
  timeoutMs: 3000,
  ...extra,
})

describe('webhooks cannot be aimed inward', () => {
  let broker: Broker
  beforeAll(async () => {
    broker = await startBroker()
    // nothing is ever published here: a subscription created by mistake has nothing to send anywhere
    await createTopic(broker.url, 'ssrf.quiet')
  })
  afterAll(() => broker.stop())

  it('refuses loopback, private, link-local and unique-local targets at creation, naming webhook.url', async () => {
    const inward = [
      'http://127.0.0.1:4600/hook',
      'http://127.1/hook',
      'http://0x7f000001/hook',
      'http://localhost:4600/hook',
      'http://LocalHost/hook',
      'http://[::1]:4600/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[::ffff:a9fe:a9fe]/latest/meta-data/',
      'http://10.0.0.1/hook',
      'http://172.16.5.4/hook',
      'http://192.168.1.1/hook',
      'http://100.64.0.1/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[fe80::1]/hook',
      'http://[fd00::1]/hook',
      'http://[64:ff9b::a00:1]/hook',
      'http://0.0.0.0/hook',
      'http://224.0.0.1/hook',
      'https://255.255.255.255/hook',
    ]
    let i = 0
    for (const url of inward) {
      const name = `inward-${i++}`
      const res = await api(broker.url, 'POST', '/v1/subscriptions', {
        name,
        topic: 'ssrf.quiet',
        webhook: { url },
      })
      if (res.status === 201) await api(broker.url, 'DELETE', `/v1/subscriptions/${name}`)
      expect({ url, status: res.status }).toEqual({ url, status: 400 })
      expect(res.body.error.code).toBe('validation_error')
      expect(res.body.error.details.issues[0].path).toBe('webhook.url')
      expect(res.body.error.details.issues[0].message).toMatch(
        /^refused: .*(is|resolves to .*,) an? [a-z -]+/,
      )
    }
    const named = await api(broker.url, 'POST', '/v1/subscriptions', {
      name: 'inward-named',
      topic: 'ssrf.quiet',
      webhook: { url: 'http://localhost:4600/hook' },
    })
    expect(named.body.error.details.issues[0].message).toContain(
      'localhost resolves to 127.0.0.1, a loopback address',
    )
    // none of them exists
    const list = (await api(broker.url, 'GET', '/v1/subscriptions')).body.subscriptions
    expect(list.filter((s: any) => s.name.startsWith('inward-'))).toEqual([])
  })

  it('refuses host, framing and hop-by-hop headers and header injection, naming the header', async () => {
    const bad: Array<[Record<string, string>, string]> = [
      [{ Host: 'admin.internal' }, 'webhook.headers.Host'],
      [{ 'content-length': '0' }, 'webhook.headers.content-length'],
      [{ 'Transfer-Encoding': 'chunked' }, 'webhook.headers.Transfer-Encoding'],
      [{ connection: 'close' }, 'webhook.headers.connection'],
      [{ upgrade: 'websocket' }, 'webhook.headers.upgrade'],
      [{ 'x-ok': 'a\r\nHost: admin.internal' }, 'webhook.headers.x-ok'],
      [{ 'bad name': 'x' }, 'webhook.headers.bad name'],
    ]
    for (const [headers, path] of bad) {
      const res = await api(broker.url, 'POST', '/v1/subscriptions', {
        name: 'headers-hook',
        topic: 'ssrf.quiet',
        webhook: { url: 'https://hooks.example.com/in', headers },
      })
      if (res.status === 201) await api(broker.url, 'DELETE', '/v1/subscriptions/headers-hook')
      expect({ headers, status: res.status }).toEqual({ headers, status: 400 })
      expect(res.body.error.details.issues.map((x: any) => x.path)).toContain(path)
    }
  })
})

describe('the operator allow-list', () => {
  let databaseUrl: string
  let broker: Broker | undefined
  beforeAll(async () => {
    databaseUrl = await freshDatabase()
  })
  afterAll(() => broker?.stop())

  it('admits an inward target it names, and only while it names it: every connection is checked', async () => {
    const target = await endpoint((_req, res) => res.writeHead(204).end())
    try {
      broker = await startBroker({ databaseUrl, webhookAllow: ['localhost'] })
      await createTopic(broker.url, 'allow.events')
      const url = `http://localhost:${target.port}/hook`
      const created = await api(broker.url, 'POST', '/v1/subscriptions', {
        name: 'allowed-hook',
        topic: 'allow.events',
        // the next broker takes the partition over soon after this one stops
        sessionTimeoutMs: 1000,
        webhook: hook(url),
      })
      expect(created.status).toBe(201)
      await api(broker.url, 'POST', '/v1/topics/allow.events/events', { data: { n: 1 } })
      await waitFor(
        async () => target.hits.length,
        (n) => n >= 1,
      )
      expect(target.hits).toHaveLength(1)

      // the same subscription on a broker whose operator no longer admits the target
      await broker.stop()
      broker = await startBroker({ databaseUrl })
      await api(broker.url, 'POST', '/v1/topics/allow.events/events', { data: { n: 2 } })
      const tried = await waitFor(
        () => attempts(broker!, 'allowed-hook'),
        (a) => a.some((x) => x.error?.startsWith('refused')),
        20_000,
      )
      await sleep(500)
      expect(target.hits).toHaveLength(1)
      expect(tried[0].statusCode).toBe(null)
      expect(tried[0].error).toContain('localhost resolves to 127.0.0.1, a loopback address')
    } finally {
      await target.close()
    }
  })

  it('does not follow a redirect: a 302 is a failed attempt and the place it names gets nothing', async () => {
    // 127.0.0.2 is loopback too, and not admitted
    const elsewhere = await endpoint((_req, res) => res.writeHead(204).end(), '127.0.0.2')
    const redirecting = await endpoint((_req, res) =>
      res.writeHead(302, { location: elsewhere.url }).end('moved'),
    )
    try {
      await broker?.stop()
      broker = await startBroker({ databaseUrl, webhookAllow: ['127.0.0.1/32'] })
      await createTopic(broker.url, 'redirect.events')
      const refused = await api(broker.url, 'POST', '/v1/subscriptions', {
        name: 'elsewhere-hook',
        topic: 'redirect.events',
        webhook: hook(elsewhere.url),
      })
      expect(refused.status).toBe(400)
      const created = await api(broker.url, 'POST', '/v1/subscriptions', {
        name: 'redirect-hook',
        topic: 'redirect.events',
        webhook: hook(redirecting.url),
      })
      expect(created.status).toBe(201)
      await api(broker.url, 'POST', '/v1/topics/redirect.events/events', { data: { n: 1 } })
      const tried = await waitFor(
        () => attempts(broker!, 'redirect-hook'),
        (a) => a.length >= 3,
      )
      expect(tried.length).toBeGreaterThanOrEqual(3)
      for (const a of tried) {
        expect(a.statusCode).toBe(302)
        expect(a.error).toBe('HTTP 302 (redirects are not followed)')
      }
      expect(elsewhere.hits).toEqual([])
      expect(redirecting.hits.length).toBeGreaterThanOrEqual(3)
    } finally {
      await api(broker!.url, 'DELETE', '/v1/subscriptions/redirect-hook')
      await redirecting.close()
      await elsewhere.close()
    }
  })

  it('reads a small part of a huge answer and drops it: the broker does not hold the body', async () => {
    const TOTAL = 200 * 1024 * 1024
    const chunk = Buffer.alloc(64 * 1024, 'x')
    let written = 0
    const huge = await endpoint((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(TOTAL) })
      const pump = () => {
        while (written < TOTAL && !res.destroyed) {
          written += chunk.length
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        if (!res.destroyed) res.end()
      }
      res.on('close', () => res.destroy())
      pump()
    })
    try {
      await broker?.stop()
      broker = await startBroker({ databaseUrl, webhookAllow: ['127.0.0.1'] })
      await createTopic(broker.url, 'huge.events')
      const created = await api(broker.url, 'POST', '/v1/subscriptions', {
        name: 'huge-hook',
        topic: 'huge.events',
        webhook: hook(huge.url, { timeoutMs: 30_000 }),
      })
      expect(created.status).toBe(201)
      global.gc?.()
      const before = process.memoryUsage().rss
      let peak = before
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss)
      }, 10)
      await api(broker.url, 'POST', '/v1/topics/huge.events/events', { data: { n: 1 } })
      const tried = await waitFor(
        () => attempts(broker!, 'huge-hook'),
        (a) => a.length >= 1,
        30_000,
      )
      clearInterval(sampler)
      peak = Math.max(peak, process.memoryUsage().rss)
      expect(tried[0]).toMatchObject({ statusCode: 200, error: null })
      // generous: this process also runs the test and its PostgreSQL client; the body alone is 200 MB
      expect((peak - before) / 1024 / 1024).toBeLessThan(48)
      // the endpoint could hand over only what the sockets' buffers hold before the broker hung up
      expect(written).toBeLessThan(32 * 1024 * 1024)
      expect(tried[0].durationMs).toBeLessThan(5000)
    } finally {
      await api(broker!.url, 'DELETE', '/v1/subscriptions/huge-hook')
      await huge.close()
    }
  })

  it('takes a 2xx whose body trickles once its deadline passes, and gives up on a silent endpoint', async () => {
    const trickle = await endpoint((_req, res) => {
      res.writeHead(200)
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('.')), 100)
      res.on('close', () => clearInterval(t))
    })
    const silent = await endpoint(() => {})
    try {
      await broker?.stop()
      broker = await startBroker({ databaseUrl, webhookAllow: ['127.0.0.1'] })
      await createTopic(broker.url, 'slow.events')
      for (const [name, url] of [
        ['trickle-hook', trickle.url],
        ['silent-hook', silent.url],
      ] as const) {
        const created = await api(broker.url, 'POST', '/v1/subscriptions', {
          name,
          topic: 'slow.events',
          webhook: hook(url, { timeoutMs: 400 }),
        })
        expect(created.status).toBe(201)
      }
      await api(broker.url, 'POST', '/v1/topics/slow.events/events', { data: { n: 1 } })
      const trickled = await waitFor(
        () => attempts(broker!, 'trickle-hook'),
        (a) => a.length >= 1,
      )
      expect(trickled[0]).toMatchObject({ statusCode: 200, error: null })
      expect(trickled[0].durationMs).toBeGreaterThanOrEqual(350)
      expect(trickled[0].durationMs).toBeLessThan(3000)
      const silence = await waitFor(
        () => attempts(broker!, 'silent-hook'),
        (a) => a.length >= 1,
      )
      expect(silence[0]).toMatchObject({ statusCode: null, error: 'no answer within 400 ms' })
      expect(silence[0].durationMs).toBeLessThan(3000)
    } finally {
      await api(broker!.url, 'DELETE', '/v1/subscriptions/trickle-hook')
      await api(broker!.url, 'DELETE', '/v1/subscriptions/silent-hook')
      await trickle.close()
      await silent.close()
    }
  })
})
