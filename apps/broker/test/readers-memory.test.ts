import { connect, type Socket } from 'node:net'
import { createClient } from '@questlog/sdk-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { type ChildBroker, startChildBroker } from './child-broker'
import { api, createTopic, sleep } from './helpers'

const MB = 1024 * 1024
const SLOW_CONSUMER_MS = 3000
/**
 * What one stalled reader may add to the broker's resident memory with 500 KB events: it pins
 * about 5 MB (a WebSocket's 4 MB send mark and a frame; less for SSE and pulls), and the
 * garbage collector's slack grows with what is held.
 */
const CAP_PER_READER = 16 * MB
const payload = (n: number) => ({ n, pad: 'x'.repeat(500 * 1024) })

let broker: ChildBroker
const sockets: Array<{ destroy(): void }> = []

beforeAll(async () => {
  broker = await startChildBroker({
    QUESTLOG_MAX_BODY_BYTES: String(3 * MB),
    QUESTLOG_SLOW_CONSUMER_MS: String(SLOW_CONSUMER_MS),
  })
  await createTopic(broker.url, 'mem.big', { partitions: 1, maxEventBytes: MB })
  for (let i = 0; i < 5; i++) {
    const created = await api(broker.url, 'POST', '/v1/subscriptions', {
      name: `mem.q${i}`,
      topic: 'mem.big',
      mode: 'queue',
      from: 'earliest',
    })
    expect(created.status).toBe(201)
  }
})
afterAll(() => {
  for (const s of sockets) s.destroy()
  broker?.stop()
})

/** A WebSocket client that says hello, subscribes, and then stops reading (its socket paused). */
async function stalledWebSocket(subscribe: Record<string, unknown>): Promise<void> {
  const ws = new WebSocket(`${broker.url.replace('http', 'ws')}/v1/ws`)
  sockets.push({ destroy: () => ws.terminate() })
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  const frames: Array<{ op: string }> = []
  ws.on('message', (m) => frames.push(JSON.parse(m.toString())))
  ws.send(JSON.stringify({ op: 'hello', v: 1 }))
  while (!frames.some((f) => f.op === 'welcome')) await sleep(10)
  ws.send(JSON.stringify({ op: 'subscribe', sid: 's1', ...subscribe }))
  while (!frames.some((f) => f.op === 'subscribed')) await sleep(10)
  ws.pause()
}

/** A raw HTTP request whose response is never read past its first bytes. */
async function stalledHttp(request: string): Promise<Socket> {
  const url = new URL(broker.url)
  const socket = connect(Number(url.port), url.hostname)
  sockets.push(socket)
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write(request)
  await new Promise((resolve) => socket.once('data', resolve))
  socket.pause()
  return socket
}

const openStreams = async () => {
  const text = await (await fetch(`${broker.url}/metrics`)).text()
  return Number(/^questlog_open_streams (\d+)/m.exec(text)?.[1])
}

describe('readers that stop reading', () => {
  it('pin a bounded number of bytes each, are cut off after slowConsumerMs, and others are served meanwhile', async () => {
    const bus = createClient({ brokers: [broker.url] })
    const healthy = bus.subscribe<{ n: number }>('mem.big', { from: 'latest' })
    const seen: number[] = []
    const reading = (async () => {
      for await (const e of healthy) {
        seen.push(e.data.n)
        if (seen.length === 160) return
      }
    })()
    while (Object.keys(healthy.positions).length === 0) await sleep(10)
    // four events a request: a commit of 2 MB reaches every reader at once
    const publish = async (n: number) => {
      const events = [n, n + 1, n + 2, n + 3].map((i) => ({ data: payload(i) }))
      const res = await api(broker.url, 'POST', '/v1/topics/mem.big/events', { events })
      expect(res.status).toBe(201)
    }
    // warm-up: the same traffic without stalled readers; its highest resident memory is the baseline
    let baseline = broker.rss()
    const warming = setInterval(() => {
      baseline = Math.max(baseline, broker.rss())
    }, 50)
    for (let n = 0; n < 80; n += 4) await publish(n)
    while (seen.length < 80) await sleep(10)
    await sleep(500)
    clearInterval(warming)

    // 5 topic subscribers and 2 named (queue) subscribers over WebSocket, 5 SSE readers; some
    // catch up over the 40 MB already there, the others follow live events
    const from = (i: number) => (i % 2 === 0 ? 'earliest' : 'latest')
    for (let i = 0; i < 5; i++) await stalledWebSocket({ topic: 'mem.big', from: from(i) })
    for (let i = 0; i < 2; i++) await stalledWebSocket({ subscription: `mem.q${i}` })
    for (let i = 0; i < 5; i++)
      await stalledHttp(`GET /v1/topics/mem.big/stream?from=${from(i)} HTTP/1.1\r\nHost: x\r\n\r\n`)
    expect(await openStreams()).toBe(13)

    let peak = baseline
    let slowestHealthMs = 0
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const t0 = performance.now()
        const res = await fetch(`${broker.url}/health`)
        await res.arrayBuffer()
        slowestHealthMs = Math.max(slowestHealthMs, performance.now() - t0)
        peak = Math.max(peak, broker.rss())
        await sleep(50)
      }
    })()
    const started = Date.now()
    for (let n = 80; n < 160; n += 4) await publish(n)
    // 3 pulls of up to 1000 events each over the 80 MB backlog, never read
    const body = JSON.stringify({ member: 'm', max: 1000 })
    for (let i = 2; i < 5; i++) {
      await stalledHttp(
        `POST /v1/subscriptions/mem.q${i}/pull HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      )
    }
    await reading
    // every stalled stream is let go once it took nothing for slowConsumerMs; the healthy one stays
    while ((await openStreams()) > 1 && Date.now() - started < 40_000) await sleep(200)
    const cutAfterMs = Date.now() - started
    sampling = false
    await sampler

    expect(seen).toEqual(Array.from({ length: 160 }, (_, n) => n))
    expect(await openStreams()).toBe(1)
    expect(cutAfterMs).toBeLessThan(SLOW_CONSUMER_MS + 15_000)
    // each stalled stream was told why (the 7 WebSocket and 5 SSE ones)
    const metrics = await (await fetch(`${broker.url}/metrics`)).text()
    const told = /^questlog_rejected_requests_total\{reason="slow_consumer"\} (\d+)/m.exec(metrics)
    expect(Number(told?.[1])).toBe(12)
    expect(slowestHealthMs).toBeLessThan(1000)
    const growth = peak - baseline
    expect(growth, `grew ${(growth / MB).toFixed(0)} MB`).toBeLessThan(15 * CAP_PER_READER)
    await bus.close()
  })
})
