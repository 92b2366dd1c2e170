import { PROTOCOL_VERSION } from '@questlog/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import { createClient, type Status } from '../src/index'

describe('connection heartbeat', () => {
  let server: WebSocketServer | undefined
  afterEach(async () => {
    for (const c of server?.clients ?? []) c.terminate()
    await new Promise((resolve) => server?.close(resolve))
  })

  it('drops a connection whose peer stops answering, and reconnects', async () => {
    // a peer that completes the handshake, then goes silent: what a half-open TCP connection looks like
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise((resolve) => server!.once('listening', resolve))
    let connections = 0
    server.on('connection', (ws) => {
      connections++
      ws.once('message', () => {
        ws.send(
          JSON.stringify({
            op: 'welcome',
            v: PROTOCOL_VERSION,
            brokerId: 'silent',
            publishCredits: 100,
            maxBatchEvents: 100,
          }),
        )
      })
    })
    const { port } = server.address() as { port: number }
    const bus = createClient({
      brokers: [`http://127.0.0.1:${port}`],
      pingIntervalMs: 100,
      backoff: { initialMs: 10, maxMs: 20 },
    })
    const states: Status['state'][] = []
    for await (const s of bus.status()) {
      states.push(s.state)
      if (states.filter((x) => x === 'open').length === 2) break
    }
    expect(states.slice(0, 3)).toEqual(['connecting', 'open', 'reconnecting'])
    expect(connections).toBe(2)
    await bus.close()
  })

  it('fails a publish at its delivery deadline when the broker keeps the connection alive but never answers it', async () => {
    // a wedged broker: it answers the handshake and every ping, and never a publish
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise((resolve) => server!.once('listening', resolve))
    let publishes = 0
    server.on('connection', (ws) => {
      ws.on('message', (raw) => {
        const f = JSON.parse(String(raw)) as { op: string; t?: number }
        if (f.op === 'hello') {
          ws.send(
            JSON.stringify({
              op: 'welcome',
              v: PROTOCOL_VERSION,
              brokerId: 'wedged',
              publishCredits: 100,
              maxBatchEvents: 100,
            }),
          )
        } else if (f.op === 'ping') ws.send(JSON.stringify({ op: 'pong', t: f.t }))
        else if (f.op === 'publish') publishes++
      })
    })
    const { port } = server.address() as { port: number }
    const bus = createClient({
      brokers: [`http://127.0.0.1:${port}`],
      pingIntervalMs: 100,
      deliveryTimeoutMs: 800,
      lingerMs: 0,
    })
    const started = performance.now()
    const outcome = await bus.publish('wedged.t', { n: 1 }).then(
      () => 'stored',
      (e: Error & { code?: string }) => e.code,
    )
    const ms = performance.now() - started
    expect(outcome).toBe('timeout')
    expect(publishes).toBeGreaterThanOrEqual(1)
    // the deadline, not the end of the test, settled it
    expect(ms).toBeGreaterThanOrEqual(700)
    expect(ms).toBeLessThan(5000)
    await bus.close()
  })
})
