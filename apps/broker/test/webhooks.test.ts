import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, sleep, startBroker } from './helpers'

let broker: Broker
let server: Server
let endpoint: string
let failuresLeft = 5
const received: any[] = []
const statuses: number[] = []

beforeAll(async () => {
  // the endpoint is on this machine: an inward target the operator admits
  broker = await startBroker({ webhookAllow: ['127.0.0.1'] })
  // a real HTTP endpoint that fails its first 5 requests, then recovers
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => {
      body += c
    })
    req.on('end', () => {
      if (failuresLeft > 0) {
        failuresLeft--
        statuses.push(503)
        res.writeHead(503).end('down')
        return
      }
      const doc = JSON.parse(body)
      received.push(...(Array.isArray(doc.events) ? doc.events : [doc]))
      statuses.push(200)
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`
})
afterAll(async () => {
  await broker.stop()
  await new Promise((r) => server.close(r))
})

describe('webhook subscriptions', () => {
  it('gets every event in order per partition through 5 failures; the breaker opens and closes', async () => {
    await createTopic(broker.url, 'match.results', { partitions: 2 })
    const created = await api(broker.url, 'POST', '/v1/subscriptions', {
      name: 'results-hook',
      topic: 'match.results',
      from: 'earliest',
      webhook: {
        url: endpoint,
        batchSize: 5,
        retryBackoffMs: [50],
        failureThreshold: 3,
        openMs: 400,
        timeoutMs: 2000,
      },
    })
    expect(created.status).toBe(201)
    const total = 40
    await api(broker.url, 'POST', '/v1/topics/match.results/events', {
      events: Array.from({ length: total }, (_, i) => ({ key: `match-${i % 7}`, data: { i } })),
    })

    let sawOpen = false
    const deadline = Date.now() + 20_000
    while (received.length < total && Date.now() < deadline) {
      const hook = await api(broker.url, 'GET', '/v1/subscriptions/results-hook/webhook')
      if (hook.body.state?.breaker === 'open') sawOpen = true
      await sleep(50)
    }
    expect(received.map((e) => e.data.i).sort((a, b) => a - b)).toEqual(
      Array.from({ length: total }, (_, i) => i),
    )
    // in order within each partition
    for (const p of [0, 1]) {
      const offsets = received.filter((e) => e.partition === p).map((e) => Number(e.offset))
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b))
      expect(new Set(offsets).size).toBe(offsets.length)
    }
    expect(sawOpen).toBe(true)
    expect(statuses.slice(0, 5)).toEqual([503, 503, 503, 503, 503])

    const hook = await api(broker.url, 'GET', '/v1/subscriptions/results-hook/webhook')
    expect(hook.body.state.breaker).toBe('closed')
    // 3 failures opened it; the half-open trials failed twice more and reopened it
    expect(hook.body.state.opened).toBeGreaterThanOrEqual(2)
    const attempts = hook.body.attempts.reverse()
    expect(attempts.slice(0, 5).map((a: any) => a.statusCode)).toEqual([503, 503, 503, 503, 503])
    expect(attempts.slice(0, 5).every((a: any) => a.error === 'HTTP 503')).toBe(true)
    expect(attempts.at(-1).statusCode).toBe(204)
    // the last batch is committed right after the endpoint answered
    let lag = -1
    for (let i = 0; i < 40 && lag !== 0; i++) {
      lag = (await api(broker.url, 'GET', '/v1/subscriptions/results-hook')).body.lag
      if (lag !== 0) await sleep(50)
    }
    expect(lag).toBe(0)
  })

  it('refuses a webhook on a queue subscription and a bad URL', async () => {
    const queue = await api(broker.url, 'POST', '/v1/subscriptions', {
      name: 'q-hook',
      topic: 'match.results',
      mode: 'queue',
      webhook: { url: endpoint },
    })
    expect(queue.status).toBe(400)
    expect(queue.body.error.details.issues[0].path).toBe('mode')
    const badUrl = await api(broker.url, 'POST', '/v1/subscriptions', {
      name: 'bad-hook',
      topic: 'match.results',
      webhook: { url: 'ftp://example' },
    })
    expect(badUrl.status).toBe(400)
    expect(badUrl.body.error.details.issues[0].path).toBe('webhook.url')
  })
})
