import { PROTOCOL_VERSION } from '@questlog/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { Broker } from '../src/broker'
import { createTopic, sleep, startBroker } from './helpers'

let broker: Broker
const wsUrl = () => `${broker.url.replace('http', 'ws')}/v1/ws`

beforeAll(async () => {
  broker = await startBroker({
    allowedOrigins: ['https://game.example'],
    maxFramesPerSecond: 50,
    maxSubscriptionsPerConnection: 2,
  })
  await createTopic(broker.url, 'limits.topic')
})
afterAll(() => broker.stop())

/** Opens a socket, says hello, and collects every frame the broker sends. */
async function open(origin?: string) {
  const ws = new WebSocket(wsUrl(), origin ? { headers: { origin } } : {})
  const frames: any[] = []
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())))
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  ws.send(JSON.stringify({ op: 'hello', v: PROTOCOL_VERSION }))
  const deadline = Date.now() + 10_000
  while (!frames.some((f) => f.op === 'welcome') && Date.now() < deadline) await sleep(20)
  return { ws, frames, closed }
}

describe('WebSocket limits', () => {
  it('refuses a handshake from an origin off the allow-list, before any frame', async () => {
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl(), { headers: { origin: 'https://evil.example' } })
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.on('open', () => resolve(101))
      ws.on('error', () => {})
    })
    expect(refused).toBe(403)
    const { ws, frames } = await open('https://game.example')
    expect(frames.some((f) => f.op === 'welcome')).toBe(true)
    ws.close()
  })

  it('refuses frames past the per-connection rate, then disconnects a client that keeps flooding', async () => {
    const { ws, frames, closed } = await open()
    for (let i = 0; i < 400; i++) ws.send(JSON.stringify({ op: 'ping', t: i }))
    const code = await closed
    expect(frames.some((f) => f.op === 'error' && f.code === 'rate_limited')).toBe(true)
    expect(frames.some((f) => f.op === 'close' && f.code === 'rate_limited')).toBe(true)
    expect(code).toBe(4429)
    // the broker keeps serving others
    const other = await open()
    expect(other.frames.some((f) => f.op === 'welcome')).toBe(true)
    other.ws.close()
  })

  it('caps subscriptions per connection with a clear error', async () => {
    const { ws, frames } = await open()
    for (const sid of ['a', 'b', 'c'])
      ws.send(JSON.stringify({ op: 'subscribe', sid, topic: 'limits.topic', from: 'latest' }))
    const deadline = Date.now() + 10_000
    while (!frames.some((f) => f.op === 'error' && f.sid === 'c') && Date.now() < deadline) await sleep(20)
    const error = frames.find((f) => f.op === 'error' && f.sid === 'c')
    expect(error.code).toBe('bad_request')
    expect(error.message).toMatch(/at most 2 subscriptions per connection/)
    expect(frames.some((f) => f.op === 'error' && (f.sid === 'a' || f.sid === 'b'))).toBe(false)
    ws.close()
  })
})
