import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { Broker } from '../src/broker'
import { type ApiResponse, api, createTopic, readAll, sleep, startBroker } from './helpers'

// Text drawn from all of Unicode, with what breaks storage and framing made common: NUL and other
// control characters, lone surrogates, line breaks, quotes, escapes, percent signs, JSON punctuation.
const hostileUnit = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom('\u0000', '\ud800', '\udfff', '\n', '\r', '\u2028', '\u0085', '\ufeff'),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom('"', '\\', '%', '%00', '%E0%A4%A', '{', '}', '[', ']', ',', ':', ' '),
  },
  { weight: 5, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 5, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
)
const text = fc.string({ unit: hostileUnit, maxLength: 24 })
/** Mostly text, sometimes a value of the wrong kind. */
const field = fc.oneof(
  { weight: 6, arbitrary: text },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
)
const b64 = (s: string) => Buffer.from(s).toString('base64')
/** No lone surrogate (what a URL or an HTTP header cannot carry at all). */
const wellFormed = (s: string) => !/[\ud800-\udfff]/.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))

const event = fc.record(
  {
    type: fc.oneof(fc.constantFrom('game.kill', 'game.score'), field),
    key: field,
    id: field,
    source: field,
    dedupeKey: field,
    producer: field,
    seq: fc.oneof(fc.nat(), field),
    partition: fc.oneof(fc.integer({ min: -1, max: 3 }), field),
    contentType: fc.oneof(
      fc.constantFrom('application/json', 'text/json', 'application/x+json', 'text/plain'),
      field,
    ),
    headers: fc.oneof(fc.dictionary(text, text, { maxKeys: 4 }), field),
    data: fc.oneof(fc.jsonValue({ maxDepth: 3 }), text),
    dataBase64: fc.oneof(text.map(b64), text),
    extra: field,
  },
  { requiredKeys: [] },
)
const publishBody = fc.oneof(
  { weight: 3, arbitrary: event },
  { weight: 3, arbitrary: fc.record({ events: fc.array(event, { minLength: 1, maxLength: 5 }) }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
)

interface Receipt {
  topic: string
  partition: number
  offset: string
  duplicate: boolean
}

/** Every request must be answered, in time and without a 5xx. */
async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
) {
  const res = await Promise.race([
    api(base, method, path, body, headers),
    sleep(15_000).then(() => {
      throw new Error(`no answer in 15 s: ${method} ${path}`)
    }),
  ])
  expect(
    res.status,
    `${method} ${path} ${JSON.stringify(body)?.slice(0, 300)} → ${JSON.stringify(res.body)}`,
  ).toBeLessThan(500)
  return res
}

describe('fuzzing every publish door and every topic and subscription body', () => {
  let broker: Broker
  const topics = ['fuzz.a', 'fuzz.b']
  const receipts: Receipt[] = []
  const scheduled = new Set<string>()
  const keep = (topic: string, res: ApiResponse) => {
    if (res.status !== 201 || typeof res.body !== 'object') return
    const list = 'receipts' in res.body ? res.body.receipts : [res.body]
    for (const r of list) receipts.push({ topic, ...r })
  }

  beforeAll(async () => {
    broker = await startBroker()
    await createTopic(broker.url, 'fuzz.a', { partitions: 2 })
    await createTopic(broker.url, 'fuzz.b', { partitions: 1, maxEventBytes: 256 })
  })
  afterAll(() => broker.stop())

  it('answers every door without a 5xx or a hang, while a good producer never fails, and the log holds exactly the receipts', async () => {
    const base = broker.url
    // the good producer, beside the fuzzing, on the same partitions
    const good: ApiResponse[] = []
    let stop = false
    const producer = (async () => {
      for (let i = 0; !stop; i++) {
        const res = await api(base, 'POST', '/v1/topics/fuzz.a/events', {
          events: [{ key: `good-${i % 7}`, data: { i } }, { data: i }],
        })
        good.push(res)
        keep('fuzz.a', res)
      }
    })()

    try {
      await fuzz(base)
    } finally {
      stop = true
      await producer
    }
    expect(good.filter((r) => r.status !== 201).map((r) => r.body)).toEqual([])
    expect(good.length).toBeGreaterThan(10)
    await expectLogHoldsReceipts(base)
    // bounded by its runs, not by time: a hang is caught by each call's own deadline
  }, 180_000)

  async function fuzz(base: string): Promise<void> {
    const topic = fc.constantFrom(...topics)
    // HTTP publish, one event or a batch
    await fc.assert(
      fc.asyncProperty(topic, publishBody, async (t, body) => {
        keep(t, await call(base, 'POST', `/v1/topics/${t}/events`, body))
      }),
      { numRuns: 300 },
    )
    // raw bytes, whatever they are, as a JSON body
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        const res = await fetch(`${base}/v1/topics/fuzz.a/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: Buffer.concat([Buffer.from('{"data":"'), Buffer.from(bytes), Buffer.from('"}')]),
        })
        const body = await res.json()
        expect(res.status).toBeLessThan(500)
        keep('fuzz.a', { status: res.status, body, headers: res.headers })
      }),
      { numRuns: 100 },
    )
    // CloudEvents: structured, batch and binary
    const cloudEvent = fc.record(
      {
        specversion: fc.oneof(fc.constant('1.0'), field),
        id: field,
        source: field,
        type: fc.oneof(fc.constant('game.kill'), field),
        datacontenttype: fc.oneof(fc.constantFrom('application/json', 'text/plain'), field),
        data: fc.jsonValue({ maxDepth: 2 }),
        data_base64: fc.oneof(text.map(b64), text),
        partitionkey: field,
        ext: field,
      },
      { requiredKeys: [] },
    )
    await fc.assert(
      fc.asyncProperty(topic, fc.oneof(cloudEvent, fc.array(cloudEvent, { maxLength: 3 })), async (t, ce) => {
        const batch = Array.isArray(ce)
        const res = await call(base, 'POST', `/v1/topics/${t}/cloudevents`, JSON.stringify(ce), {
          'content-type': batch ? 'application/cloudevents-batch+json' : 'application/cloudevents+json',
        })
        keep(t, res)
      }),
      { numRuns: 150 },
    )
    await fc.assert(
      fc.asyncProperty(topic, fc.dictionary(text, text, { maxKeys: 6 }), text, async (t, attrs, body) => {
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-type': 'game.kill',
          'ce-source': '/fuzz',
          'ce-id': 'x',
        }
        // header values travel as bytes; what HTTP cannot carry at all is left out
        for (const [k, v] of Object.entries(attrs)) {
          const name = `ce-${k.replace(/[^a-z0-9]/g, '')}`.slice(0, 23)
          if (name.length > 3)
            headers[name] = encodeURIComponent(wellFormed(v) ? v : 'x').replace(/%25/g, '%')
        }
        keep(t, await call(base, 'POST', `/v1/topics/${t}/cloudevents`, JSON.stringify(body), headers))
      }),
      { numRuns: 100 },
    )
    // the console's publish (tRPC)
    await fc.assert(
      fc.asyncProperty(topic, fc.array(event, { maxLength: 3 }), async (t, events) => {
        const res = await fetch(`${base}/trpc/events.publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ topic: t, events }),
        })
        const body = (await res.json()) as { result?: { data: { receipts: Receipt[] } } }
        expect(res.status).toBeLessThan(500)
        if (body.result) for (const r of body.result.data.receipts) receipts.push({ ...r, topic: t })
      }),
      { numRuns: 100 },
    )
    // scheduled publishes, due at once: a few good ones, and the fuzzed
    for (const t of topics) {
      const res = await call(base, 'POST', `/v1/topics/${t}/scheduled`, {
        event: { data: 'due' },
        delayMs: 0,
      })
      expect(res.status).toBe(201)
      scheduled.add(res.body.id)
    }
    await fc.assert(
      fc.asyncProperty(topic, event, async (t, e) => {
        const res = await call(base, 'POST', `/v1/topics/${t}/scheduled`, { event: e, delayMs: 0 })
        if (res.status === 201) scheduled.add(res.body.id)
      }),
      { numRuns: 100 },
    )
    // the WebSocket: JSON publish frames and binary column frames on one connection
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`)
    const answers = new Map<number, (f: Record<string, unknown>) => void>()
    let closed = false
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>
      if (typeof f.id === 'number') answers.get(f.id)?.(f)
    })
    ws.on('close', () => {
      closed = true
    })
    await new Promise((r) => ws.once('open', r))
    ws.send(JSON.stringify({ op: 'hello', v: 1 }))
    await sleep(200)
    let id = 0
    const frame = (send: (id: number) => void) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const n = ++id
        const timer = setTimeout(() => reject(new Error(`no answer to frame ${n} in 15 s`)), 15_000)
        answers.set(n, (f) => {
          clearTimeout(timer)
          resolve(f)
        })
        send(n)
      })
    const wsReceipts = (t: string, f: Record<string, unknown>) => {
      expect(f.code).not.toBe('internal')
      if (f.op === 'receipts') for (const r of f.receipts as Receipt[]) receipts.push({ ...r, topic: t })
    }
    await fc.assert(
      fc.asyncProperty(topic, fc.array(event, { minLength: 1, maxLength: 4 }), async (t, events) => {
        wsReceipts(t, await frame((n) => ws.send(JSON.stringify({ op: 'publish', id: n, topic: t, events }))))
      }),
      { numRuns: 200 },
    )
    const columns = fc.record(
      {
        ids: fc.array(fc.oneof(text, fc.constant(null)), { maxLength: 3 }),
        keys: fc.array(fc.oneof(text, fc.constant(null)), { maxLength: 3 }),
        producer: field,
        seqs: fc.array(fc.oneof(fc.nat(), field), { maxLength: 3 }),
      },
      { requiredKeys: [] },
    )
    const payloads = fc.oneof(
      fc
        .array(fc.jsonValue({ maxDepth: 2 }), { minLength: 1, maxLength: 3 })
        .map((a) => JSON.stringify(a, null, 1)),
      text,
    )
    await fc.assert(
      fc.asyncProperty(topic, columns, payloads, async (t, cols, body) => {
        const f = await frame((n) =>
          ws.send(Buffer.from(`${JSON.stringify({ op: 'publish', id: n, topic: t, ...cols })}\n${body}`)),
        )
        wsReceipts(t, f)
      }),
      { numRuns: 200 },
    )
    expect(closed).toBe(false)
    ws.close()

    // topic and subscription bodies
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue({ maxDepth: 3 }),
        fc.record(
          { name: field, partitions: fc.oneof(fc.integer(), field), retentionMs: field },
          { requiredKeys: [] },
        ),
        async (junk, topicBody) => {
          await call(base, 'POST', '/v1/topics', junk)
          await call(base, 'POST', '/v1/topics', topicBody)
          await call(base, 'POST', '/v1/subscriptions', junk)
          await call(base, 'POST', '/v1/subscriptions', {
            name: topicBody.name,
            topic: topicBody.retentionMs,
            mode: 'queue',
          })
          await call(base, 'PATCH', '/v1/topics/fuzz.b', junk)
        },
      ),
      { numRuns: 150 },
    )
    await fc.assert(
      fc.asyncProperty(text, async (name) => {
        const path = encodeURIComponent(wellFormed(name) ? name : 'x')
        await call(base, 'GET', `/v1/topics/${path}`)
        await call(base, 'GET', `/v1/subscriptions/${path}`)
        await call(base, 'GET', `/v1/topics/fuzz.a/events?cursor=${path}`)
      }),
      { numRuns: 100 },
    )
  }

  /** The log holds exactly what was acknowledged: every receipt's event, and nothing else. */
  async function expectLogHoldsReceipts(base: string): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const [row] = await broker.services.sql`SELECT count(*)::int AS n FROM ql_scheduled`
      if (row!.n === 0) break
      await sleep(100)
    }
    const stored: Array<{ at: string; id: string }> = []
    for (const t of topics) {
      const info = await api(base, 'GET', `/v1/topics/${t}`)
      for (const p of info.body.partitionInfo) {
        for (const e of await readAll(base, t, p.partition))
          stored.push({ at: `${t}/${e.partition}/${e.offset}`, id: e.id })
      }
    }
    const acked = new Set(
      receipts.filter((r) => !r.duplicate).map((r) => `${r.topic}/${r.partition}/${r.offset}`),
    )
    // every receipt's event is in the log, and everything else in the log is a scheduled event that fell due
    expect(stored.filter((e) => acked.has(e.at))).toHaveLength(acked.size)
    const others = stored.filter((e) => !acked.has(e.at))
    expect(others.filter((e) => !scheduled.has(e.id))).toEqual([])
    expect(others.length).toBeGreaterThanOrEqual(topics.length)
  }
})
