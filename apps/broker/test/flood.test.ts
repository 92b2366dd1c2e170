import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ChildBroker, startChildBroker } from './child-broker'
import { api, createTopic, readAll, sleep } from './helpers'
import { SseClient } from './sse'

const MB = 1024 * 1024
let broker: ChildBroker

// the broker runs in its own process, so its memory is measured apart from the flooding clients
beforeAll(async () => {
  broker = await startChildBroker({
    QUESTLOG_MAX_BODY_BYTES: String(MB),
    QUESTLOG_HARD_QUEUE_EVENTS: '2000',
    QUESTLOG_SOFT_QUEUE_EVENTS: '500',
    QUESTLOG_SLOW_CONSUMER_MS: '1000',
  })
  await createTopic(broker.url, 'flood.target', { partitions: 1 })
})
afterAll(() => {
  broker?.stop()
})

/** The broker's resident memory, as its health report gives it. */
const rss = async () => Number((await api(broker.url, 'GET', '/health')).body.memory_rss_bytes)

describe('floods', () => {
  it('answers oversized bodies with 413 without buffering them, and keeps serving', async () => {
    const before = await rss()
    const big = JSON.stringify({ data: 'x'.repeat(20 * MB) })
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${broker.url}/v1/topics/flood.target/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: big,
        }).then(
          async (r) => ({ status: r.status, code: ((await r.json()) as any).error?.code as string }),
          // refused while still sending: the broker answered 413 and closed the connection under us
          () => ({ status: 413, code: 'connection closed early' }),
        ),
      ),
    )
    expect(results.every((r) => r.status === 413)).toBe(true)
    expect(results.map((r) => r.code)).toContain('payload_too_large')
    // the 20 MB bodies are refused as they arrive, not held: far less than 20 × 20 MB of growth
    expect((await rss()) - before).toBeLessThan(150 * MB)
    expect(
      (await api(broker.url, 'POST', '/v1/topics/flood.target/events', { data: 'still here' })).status,
    ).toBe(201)
  })

  it('refuses a publish flood past the write queue mark with 429 and Retry-After, storing every acked event', async () => {
    const statuses: number[] = []
    const acked: string[] = []
    let retryAfter = 0
    await Promise.all(
      Array.from({ length: 30 }, async (_, p) => {
        const res = await api(broker.url, 'POST', '/v1/topics/flood.target/events', {
          events: Array.from({ length: 1000 }, (_, i) => ({ data: { p, i } })),
        })
        statuses.push(res.status)
        if (res.status === 201) acked.push(...res.body.receipts.map((r: any) => r.offset))
        if (res.status === 429) retryAfter = Number(res.headers.get('retry-after'))
      }),
    )
    expect(statuses.every((s) => s === 201 || s === 429)).toBe(true)
    expect(statuses).toContain(429)
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    const stored = new Set((await readAll(broker.url, 'flood.target', 0)).map((e) => e.offset))
    for (const o of acked) expect(stored.has(o)).toBe(true)
  })

  it('tells a reader that takes nothing it is too slow and lets it go, while others keep reading', async () => {
    // a raw socket that asks for the stream and never reads a byte
    const slow = connect(Number(new URL(broker.url).port), '127.0.0.1')
    slow.write('GET /v1/topics/flood.target/stream?from=earliest HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    slow.pause()
    const fast = new SseClient(`${broker.url}/v1/topics/flood.target/stream?from=latest`)
    await sleep(300)
    const before = await rss()
    const payload = 'y'.repeat(4000)
    for (let i = 0; i < 10; i++) {
      await api(broker.url, 'POST', '/v1/topics/flood.target/events', {
        events: Array.from({ length: 200 }, (_, j) => ({ data: { i, j, payload } })),
      })
    }
    // the reader that reads keeps getting everything
    await fast.waitFor(2000, 30_000)
    expect(new Set(fast.events().map((e) => `${e.data.i}:${e.data.j}`)).size).toBe(2000)
    // the one that reads nothing is told and let go: the broker counts it and its stream closes
    const slowCount = async () => {
      const text = await fetch(`${broker.url}/metrics`).then((r) => r.text())
      return Number(/questlog_rejected_requests_total\{reason="slow_consumer"\} (\d+)/.exec(text)?.[1] ?? 0)
    }
    const deadline = Date.now() + 20_000
    while ((await slowCount()) === 0 && Date.now() < deadline) await sleep(100)
    expect(await slowCount()).toBeGreaterThanOrEqual(1)
    await sleep(1500)
    expect((await api(broker.url, 'GET', '/health')).body.open_streams).toBe(1)
    expect((await rss()) - before).toBeLessThan(150 * MB)
    fast.close()
    slow.destroy()
  })
})
