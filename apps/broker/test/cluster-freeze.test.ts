import { createClient, type QuestlogClient } from '@questlog/sdk-node'
import { afterEach, describe, expect, it } from 'vitest'
import { ADMIN, brokerProcesses, CLUSTER_ADMIN_KEY, FAST_CLUSTER, waitFor } from './broker-processes'
import { api, createTopic, sleep } from './helpers'

const procs = brokerProcesses()
const clients: QuestlogClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})))
})
const SESSION_TIMEOUT_MS = 3000

describe('a frozen broker', () => {
  it('stalls the partitions it was writing only briefly: the other broker goes on publishing', async () => {
    const { brokers } = await procs.cluster(2, FAST_CLUSTER)
    const [a, b] = brokers as [(typeof brokers)[0], (typeof brokers)[0]]
    await createTopic(a.url, 'frozen.t', { partitions: 2 }, ADMIN)
    let stop = false
    let frozenAt = Number.POSITIVE_INFINITY
    const slowest = { ms: 0 }
    const failures: unknown[] = []
    const publisher = (url: string, n: number, measure: boolean) =>
      (async () => {
        for (let i = 0; !stop; i++) {
          const t0 = performance.now()
          const r = await api(
            url,
            'POST',
            '/v1/topics/frozen.t/events',
            { events: Array.from({ length: 10 }, (_, j) => ({ key: `k${(i + j) % 5}`, data: { n, i, j } })) },
            ADMIN,
          ).catch((e) => ({ status: 0, body: String(e) }))
          const ms = performance.now() - t0
          if (measure && t0 > frozenAt) {
            slowest.ms = Math.max(slowest.ms, ms)
            if (r.status !== 201) failures.push(r.body)
          }
        }
      })()
    const onA = [0, 1, 2, 3].map((n) => publisher(a.url, n, false))
    const onB = [4, 5, 6, 7].map((n) => publisher(b.url, n, true))
    await sleep(3000)
    a.pause()
    frozenAt = performance.now()
    await sleep(20_000)
    stop = true
    await Promise.all(onB)
    console.info(`slowest publish on the other broker after the freeze: ${Math.round(slowest.ms)} ms`)
    a.resume()
    await Promise.all(onA)
    expect(failures).toEqual([])
    expect(slowest.ms).toBeLessThan(15_000)
  }, 120_000)

  it('hands the partitions of its group members to a member on another broker within the session timeout', async () => {
    const { brokers } = await procs.cluster(2, FAST_CLUSTER)
    const [a, b] = brokers as [(typeof brokers)[0], (typeof brokers)[0]]
    await createTopic(a.url, 'frozen.g', { partitions: 4 }, ADMIN)
    const received = new Map<number, number>() // partition → when its last event came to b's member
    const member = (url: string, onEvent: (partition: number) => void) => {
      const c = createClient({
        brokers: [url],
        token: CLUSTER_ADMIN_KEY,
        backoff: { initialMs: 50, maxMs: 300 },
        routing: { discover: false },
      })
      clients.push(c)
      const sub = c.subscribe('frozen.g', {
        group: 'g',
        from: 'latest',
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
      })
      void (async () => {
        for await (const ev of sub) {
          onEvent(ev.partition)
          await ev.ack()
        }
      })().catch(() => {})
      return sub
    }
    member(a.url, () => {})
    const onB = member(b.url, (p) => received.set(p, performance.now()))
    await waitFor('the partitions divided', 10_000, async () =>
      Object.keys(onB.positions).length === 2 ? true : undefined,
    )
    let stop = false
    const publishing = (async () => {
      for (let i = 0; !stop; i++) {
        await api(
          b.url,
          'POST',
          '/v1/topics/frozen.g/events',
          { events: Array.from({ length: 4 }, (_, p) => ({ partition: p, data: { i } })) },
          ADMIN,
        )
        await sleep(20)
      }
    })()
    await sleep(1000)
    a.pause()
    const frozenAt = performance.now()
    const all = await waitFor('every partition delivered on b after the freeze', 30_000, async () =>
      [0, 1, 2, 3].every((p) => (received.get(p) ?? 0) > frozenAt) ? performance.now() : undefined,
    )
    const movedMs = Math.round(all - frozenAt)
    console.info(`a frozen broker's group partitions delivered on the other broker after ${movedMs} ms`)
    stop = true
    await publishing
    a.resume()
    expect(movedMs).toBeLessThan(SESSION_TIMEOUT_MS + 3000)
  }, 120_000)
})
