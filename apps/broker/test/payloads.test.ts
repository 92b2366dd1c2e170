import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, readAll, startBroker } from './helpers'
import { SseClient } from './sse'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

/** Payloads at the edges of JSON: every one must come back as it went in, live and from the log. */
const payloads: unknown[] = [
  null,
  false,
  0,
  -1.5e-7,
  '',
  'a "quoted" \\ back\\slash\nnew line \u0000 nul',
  'émoji 🎮 and \u2028 separators',
  'a lone \ud800 surrogate',
  { tab: 'a\tb', quote: '"' },
  { nested: { deep: [1, [2, [3, null]], { k: 'v' }] }, empty: {}, none: [] },
  [null, true, 'x'],
  { big: 123456789012345, small: 1e-300 },
]

describe('payloads', () => {
  it('stores JSON payloads as they were published and binary ones byte for byte', async () => {
    await createTopic(broker.url, 'edge.payloads', { partitions: 1 })
    const live = new SseClient(`${broker.url}/v1/topics/edge.payloads/stream?from=latest`)
    await new Promise((r) => setTimeout(r, 200))
    const bytes = Buffer.from([0, 1, 2, 250, 255, 0x7b])
    const res = await api(broker.url, 'POST', '/v1/topics/edge.payloads/events', {
      events: [...payloads.map((data) => ({ data })), { dataBase64: bytes.toString('base64') }],
    })
    expect(res.status).toBe(201)
    const stored = await readAll(broker.url, 'edge.payloads', 0)
    expect(stored.slice(0, payloads.length).map((e) => e.data)).toEqual(payloads)
    expect(stored.at(-1).dataBase64).toBe(bytes.toString('base64'))
    expect(stored.at(-1).contentType).toBe('application/octet-stream')

    const count = payloads.length + 1
    for (let i = 0; i < 100 && live.messages.length < count; i++) await new Promise((r) => setTimeout(r, 20))
    const seen = live.messages.map((m) => JSON.parse(m.data))
    expect(seen.slice(0, payloads.length).map((e) => e.data)).toEqual(payloads)
    expect(seen.at(-1).dataBase64).toBe(bytes.toString('base64'))
    live.close()
  })

  it('stores ids, keys, dedupe keys and headers with quotes, backslashes, braces and NULL as sent', async () => {
    await createTopic(broker.url, 'edge.fields', { partitions: 1 })
    const odd = ['NULL', '', 'a "q" b', 'back\\slash', '{a,b}', 'comma, space', "it's", 'é 🎮']
    const events = odd.map((s, i) => ({
      id: `id-${s}-${i}`,
      type: `edge.t${i}`,
      key: `k${s}`,
      dedupeKey: `dk-${s}-${i}`,
      headers: { h: s },
      data: { i },
    }))
    const res = await api(broker.url, 'POST', '/v1/topics/edge.fields/events', { events })
    expect(res.status).toBe(201)
    const stored = await readAll(broker.url, 'edge.fields', 0)
    expect(
      stored.map((e) => ({
        id: e.id,
        type: e.type,
        key: e.key,
        dedupeKey: e.dedupeKey,
        headers: e.headers,
        data: e.data,
      })),
    ).toEqual(events)
    // the dedupe keys were claimed as sent: publishing them again stores nothing
    const again = await api(broker.url, 'POST', '/v1/topics/edge.fields/events', { events })
    expect(again.body.receipts.map((r: { duplicate: boolean }) => r.duplicate)).toEqual(odd.map(() => true))
    expect(await readAll(broker.url, 'edge.fields', 0)).toHaveLength(odd.length)
  })
})
