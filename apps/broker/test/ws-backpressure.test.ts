import { createClient } from '@questlog/sdk-node'
import { describe, expect, it } from 'vitest'
import { createTopic, readAll, sleep, startBroker } from './helpers'

const CLIENTS = 4
const EACH = 3000

/** Four SDK clients publish into one partition at once; returns what they saw. */
async function run(config: { softQueueEvents: number; hardQueueEvents?: number }) {
  const broker = await startBroker(config)
  try {
    await createTopic(broker.url, 'ws.pressure')
    const clients = Array.from({ length: CLIENTS }, () =>
      createClient({ brokers: [broker.url], maxBatchEvents: 250 }),
    )
    let minCredits = Number.POSITIVE_INFINITY
    let running = true
    const watcher = (async () => {
      while (running) {
        for (const c of clients) minCredits = Math.min(minCredits, c.stats().credits)
        await sleep(1)
      }
    })()
    // connected and warmed up before the clock starts
    await Promise.all(clients.map((c) => c.publish('ws.pressure', { warmup: true })))
    const started = performance.now()
    await Promise.all(
      clients.map(async (c, i) => {
        const receipts = Array.from({ length: EACH }, (_, n) => c.publish('ws.pressure', { c: i, n }))
        await Promise.all(receipts)
      }),
    )
    const elapsedMs = performance.now() - started
    running = false
    await watcher
    const slowdowns = clients.reduce((s, c) => s + c.stats().slowdowns, 0)
    const batches = clients.reduce((s, c) => s + c.stats().batches, 0)
    const pausedMs = clients.reduce((s, c) => s + c.stats().pausedMs, 0)
    const retries = clients.reduce((s, c) => s + c.stats().retries, 0)
    await Promise.all(clients.map((c) => c.close()))
    const stored = (await readAll(broker.url, 'ws.pressure', 0)).filter((e) => !e.data.warmup)
    return { elapsedMs, slowdowns, batches, pausedMs, retries, minCredits, stored }
  } finally {
    await broker.stop()
  }
}

describe('back-pressure over WebSocket', () => {
  it('slows the SDK down when the broker soft-accepts, and loses nothing', async () => {
    const calm = await run({ softQueueEvents: 1_000_000 })
    const pressed = await run({ softQueueEvents: 1 })

    expect(calm).toMatchObject({ slowdowns: 0, pausedMs: 0, minCredits: 2000 })
    expect(pressed.slowdowns).toBeGreaterThan(0)
    // each soft accept asked for at least 50 ms of quiet before the next batch; a client's last hint
    // has no next batch, and a busy event loop eats into the rest, hence the margin
    expect(pressed.pausedMs).toBeGreaterThanOrEqual(20 * Math.max(1, pressed.slowdowns - CLIENTS))
    // the broker shrank the publish window below the batch size, so batches got smaller
    expect(pressed.minCredits).toBeLessThan(250)

    for (const r of [calm, pressed]) {
      expect(r.stored).toHaveLength(CLIENTS * EACH)
      expect(new Set(r.stored.map((e) => `${e.data.c}:${e.data.n}`)).size).toBe(CLIENTS * EACH)
    }
  })
  it('waits out refusals (429, past the hard mark) and stores everything once, in order per client', async () => {
    const refused = await run({ softQueueEvents: 1, hardQueueEvents: 1 })
    // refusals came back as retryable back-pressure errors; the SDK paused and sent again
    expect(refused.retries).toBeGreaterThan(0)
    expect(refused.pausedMs).toBeGreaterThan(0)
    expect(refused.stored).toHaveLength(CLIENTS * EACH)
    for (let c = 0; c < CLIENTS; c++) {
      const ns = refused.stored.filter((e) => e.data.c === c).map((e) => e.data.n)
      expect(ns).toEqual(Array.from({ length: EACH }, (_, n) => n))
    }
  })
})
