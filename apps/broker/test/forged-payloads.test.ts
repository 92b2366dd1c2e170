import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, brokerWithClients, createTopic, rawSocket, sleep, trpcCall } from './helpers'
import { SseClient } from './sse'

const b64 = (text: string) => Buffer.from(text).toString('base64')

// Bytes that close the envelope they are spliced into and open forged ones:
// in a read page, a WebSocket frame, a pull response and a webhook body (JSON),
// and in an SSE stream (lines).
const FORGERIES = [
  '1},{"id":"forged","offset":"999","data":"x"',
  '{"a":1}\n\nid: forged\ndata: {"forged":true}\n\n',
  '"unclosed',
  '{"a":1} trailing',
]
// JSON whose whitespace holds line breaks: valid, and stored, but never on more than one line of a stream
const MULTILINE = '{\n  "multi": "line",\r\n  "n": [1,\n2]\n}'
const JSON_TYPES = [
  'application/json',
  'Application/JSON; charset=utf-8',
  'application/vnd.game+json',
  'text/json',
]

describe('stored bytes are never spliced into a reader unchecked', () => {
  // the webhook endpoint below listens on loopback, which webhooks may reach only when admitted
  const ctx = brokerWithClients({ webhookAllow: ['127.0.0.1'] })
  let hook: Server
  const hookBodies: string[] = []
  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => {
        body += c
      })
      req.on('end', () => {
        hookBodies.push(body)
        res.end('ok')
      })
    })
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
  })
  afterAll(async () => {
    await new Promise((r) => hook.close(r))
  })

  it('refuses a JSON content type whose payload is not JSON, at every door, and keeps valid multi-line JSON on one line', async () => {
    const base = ctx.broker.url
    await createTopic(base, 'forge.t', { partitions: 2 })
    const sub = await api(base, 'POST', '/v1/subscriptions', {
      name: 'forge-q',
      topic: 'forge.t',
      mode: 'queue',
      from: 'earliest',
    })
    expect(sub.status).toBe(201)
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`
    expect(
      (
        await api(base, 'POST', '/v1/subscriptions', {
          name: 'forge-hook',
          topic: 'forge.t',
          mode: 'stream',
          from: 'earliest',
          webhook: { url: hookUrl, batchSize: 10 },
        })
      ).status,
    ).toBe(201)
    const sse = new SseClient(`${base}/v1/topics/forge.t/stream?from=earliest`)
    const received: unknown[] = []
    const client = ctx.client()
    const live = (async () => {
      for await (const ev of client.subscribe('forge.t', { from: 'earliest' })) {
        received.push(ev.data)
        await ev.ack()
        if (received.length === 4) return
      }
    })()

    const post = (body: unknown) => api(base, 'POST', '/v1/topics/forge.t/events', body)
    const expected: unknown[] = []
    expect((await post({ key: 'n', data: { before: true } })).status).toBe(201)
    expected.push({ before: true })
    for (const contentType of JSON_TYPES) {
      for (const forged of FORGERIES) {
        const one = await post({ key: 'n', contentType, dataBase64: b64(forged) })
        expect(one.status, `${contentType} ${JSON.stringify(forged)}`).toBe(400)
        expect(one.body.error.details.issues[0].path).toBe('dataBase64')
        const batch = await post({
          events: [{ data: 1 }, { key: 'n', contentType, dataBase64: b64(forged) }],
        })
        expect(batch.status).toBe(400)
        expect(batch.body.error.details.issues[0].path).toBe('events.1.dataBase64')
      }
    }
    // not UTF-8, though it says JSON
    expect(
      (
        await post({
          contentType: 'application/json',
          dataBase64: Buffer.from([0x22, 0xff, 0x22]).toString('base64'),
        })
      ).status,
    ).toBe(400)
    // CloudEvents, structured: data_base64 under a JSON datacontenttype
    for (const forged of FORGERIES) {
      const ce = await api(
        base,
        'POST',
        '/v1/topics/forge.t/cloudevents',
        JSON.stringify({
          specversion: '1.0',
          id: `ce-${forged.length}`,
          source: '/forge',
          type: 'game.kill',
          datacontenttype: 'application/json',
          data_base64: b64(forged),
        }),
        { 'content-type': 'application/cloudevents+json' },
      )
      expect(ce.status).toBe(400)
    }
    // the WebSocket's binary form keeps each payload's text: a forged one is not JSON and refused
    const s = await rawSocket(base)
    s.send({ op: 'hello', v: 1 })
    await s.next(1)
    s.sendColumns({ op: 'publish', id: 1, topic: 'forge.t', keys: ['n'] }, `[${FORGERIES[0]}]`)
    expect((await s.next(2)).op).toBe('error')
    // valid JSON with line breaks, by three doors
    expect(
      (await post({ key: 'n', contentType: 'application/json', dataBase64: b64(MULTILINE) })).status,
    ).toBe(201)
    s.sendColumns({ op: 'publish', id: 2, topic: 'forge.t', keys: ['n'] }, `[${MULTILINE}]`)
    expect((await s.next(3)).op).toBe('receipts')
    s.ws.close()
    expected.push(JSON.parse(MULTILINE), JSON.parse(MULTILINE))
    expect((await post({ key: 'n', data: { after: true } })).status).toBe(201)
    expected.push({ after: true })

    // every reader sees exactly those four events, whole
    const partition = (await post({ key: 'n', data: 'probe' })).body.partition
    expected.push('probe')
    const page = await api(base, 'GET', `/v1/topics/forge.t/events?partition=${partition}&from=0&limit=100`)
    expect(page.status).toBe(200)
    expect(page.body.events.map((e: { data: unknown }) => e.data)).toEqual(expected)
    const messages = await sse.waitFor(expected.length)
    await sleep(200)
    sse.close()
    expect(messages).toHaveLength(expected.length)
    expect(sse.events().map((e) => e.data)).toEqual(expected)
    expect(messages.every((m) => m.id && !m.id.includes('forged'))).toBe(true)
    await live
    expect(received).toEqual(expected.slice(0, 4))
    const pulled = await api(base, 'POST', '/v1/subscriptions/forge-q/pull', { member: 'm', max: 100 })
    expect(pulled.status).toBe(200)
    expect(pulled.body.deliveries.map((d: { event: { data: unknown } }) => d.event.data)).toEqual(expected)
    const consoleRead = await trpcCall(base, 'query', 'events.read', {
      topic: 'forge.t',
      query: { partition, from: '0', limit: 100 },
    })
    expect(consoleRead.status).toBe(200)
    expect(consoleRead.body.result.data.events.map((e: { data: unknown }) => e.data)).toEqual(expected)
    for (
      let i = 0;
      i < 100 && hookBodies.flatMap((b) => JSON.parse(b).events ?? [b]).length < expected.length;
      i++
    )
      await sleep(100)
    const pushed = hookBodies.flatMap((b) => (JSON.parse(b) as { events: Array<{ data: unknown }> }).events)
    expect(pushed.map((e) => e.data)).toEqual(expected)
  })
})
