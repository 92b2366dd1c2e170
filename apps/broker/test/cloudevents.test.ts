import { createClient } from '@questlog/sdk-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, readAll, startBroker, waitFor } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
  await createTopic(broker.url, 'ce.in')
})
afterAll(() => broker.stop())

describe('CloudEvents HTTP binding', () => {
  it('maps binary mode headers onto the envelope', async () => {
    const res = await api(broker.url, 'POST', '/v1/topics/ce.in/cloudevents', '{"score":3}', {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'evt-1',
      'ce-source': '/match/42',
      'ce-type': 'game.score',
      'ce-partitionkey': 'player-7',
      'ce-traceparent': '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    })
    expect(res.status).toBe(201)
    const [e] = await readAll(broker.url, 'ce.in', 0)
    expect(e).toMatchObject({
      id: 'evt-1',
      source: '/match/42',
      type: 'game.score',
      key: 'player-7',
      contentType: 'application/json',
      data: { score: 3 },
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    })
  })

  it('keeps non-JSON binary payloads as bytes', async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255])
    const res = await fetch(`${broker.url}/v1/topics/ce.in/cloudevents`, {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'ce-specversion': '1.0',
        'ce-id': 'bin-1',
        'ce-source': '/replay',
        'ce-type': 'game.replay.chunk',
      },
      body: bytes,
    })
    expect(res.status).toBe(201)
    const e = (await readAll(broker.url, 'ce.in', 0)).find((x) => x.id === 'bin-1')
    expect(e.contentType).toBe('application/octet-stream')
    expect([...Buffer.from(e.dataBase64, 'base64')]).toEqual([...bytes])
  })

  it('accepts structured and batch modes; a repeated source + id is a duplicate', async () => {
    const structured = {
      specversion: '1.0',
      id: 's-1',
      source: '/lobby',
      type: 'game.join',
      datacontenttype: 'application/json',
      region: 'eu',
      data: { player: 'p1' },
    }
    const one = await api(broker.url, 'POST', '/v1/topics/ce.in/cloudevents', JSON.stringify(structured), {
      'content-type': 'application/cloudevents+json',
    })
    expect(one.status).toBe(201)
    expect(one.body.duplicate).toBe(false)
    const batch = [structured, { ...structured, id: 's-2', data: { player: 'p2' } }]
    const many = await api(broker.url, 'POST', '/v1/topics/ce.in/cloudevents', JSON.stringify(batch), {
      'content-type': 'application/cloudevents-batch+json',
    })
    expect(many.status).toBe(201)
    expect(many.body.receipts.map((r: any) => r.duplicate)).toEqual([true, false])
    expect(many.body.receipts[0].offset).toBe(one.body.offset)
    const stored = (await readAll(broker.url, 'ce.in', 0)).filter((e) => e.source === '/lobby')
    expect(stored.map((e) => e.data.player)).toEqual(['p1', 'p2'])
    expect(stored[0].headers.region).toBe('eu')
  })
})

/** The events of partition 0 of a topic read back as a CloudEvents batch. */
async function readBatch(topic: string) {
  const res = await api(broker.url, 'GET', `/v1/topics/${topic}/events?partition=0&from=0`, undefined, {
    accept: 'application/cloudevents-batch+json',
  })
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^application\/cloudevents-batch\+json/)
  return res.body as Array<Record<string, unknown>>
}

describe('CloudEvents read back', () => {
  const happened = '2026-03-01T12:34:56.789Z'
  const typed = {
    specversion: '1.0',
    id: 'rt-1',
    source: '/match/9',
    type: 'game.kill',
    time: happened,
    datacontenttype: 'application/json',
    partitionkey: 'player-9',
    dataschema: 'https://example.com/kill.json',
    subject: 'arena-2',
    kills: 3,
    ratio: 0.75,
    ranked: true,
    region: 'eu',
    data: { victim: 'p2' },
  }

  it('a structured event keeps its time and typed extensions, read as one event and as a batch', async () => {
    await createTopic(broker.url, 'ce.rt')
    const sent = await api(broker.url, 'POST', '/v1/topics/ce.rt/cloudevents', JSON.stringify(typed), {
      'content-type': 'application/cloudevents+json',
    })
    expect(sent.status).toBe(201)
    // the envelope: commit time in `time`, the producer's in `eventTime`; headers stay strings
    const [envelope] = await readAll(broker.url, 'ce.rt', 0)
    expect(envelope.eventTime).toBe(happened)
    expect(envelope.time).not.toBe(happened)
    expect(envelope.headers).toMatchObject({ kills: '3', ratio: '0.75', ranked: 'true', region: 'eu' })
    expect(envelope.headers.ce_time).toBeUndefined()

    const one = await api(broker.url, 'GET', `/v1/topics/ce.rt/events/0/${sent.body.offset}`, undefined, {
      accept: 'application/cloudevents+json',
    })
    expect(one.status).toBe(200)
    expect(one.headers.get('content-type')).toMatch(/^application\/cloudevents\+json/)
    expect(one.body).toEqual(typed)
    expect(await readBatch('ce.rt')).toEqual([typed])
    // without the CloudEvents media type, the same read is the envelope
    const plain = await api(broker.url, 'GET', `/v1/topics/ce.rt/events/0/${sent.body.offset}`)
    expect(plain.body).toMatchObject({ id: 'rt-1', eventTime: happened, topic: 'ce.rt' })
  })

  it('a batch keeps each event its time and types; an event without a time reads with its commit time', async () => {
    await createTopic(broker.url, 'ce.rtb')
    const second = { ...typed, id: 'rt-2', kills: 0, ranked: false, time: '2026-03-01T13:00:00.000+02:00' }
    const untimed = { specversion: '1.0', id: 'rt-3', source: '/match/9', type: 'game.end', data: null }
    const sent = await api(
      broker.url,
      'POST',
      '/v1/topics/ce.rtb/cloudevents',
      JSON.stringify([typed, second, untimed]),
      { 'content-type': 'application/cloudevents-batch+json' },
    )
    expect(sent.status).toBe(201)
    const back = await readBatch('ce.rtb')
    expect(back.slice(0, 2)).toEqual([typed, { ...second, time: '2026-03-01T11:00:00.000Z' }])
    const [, , stored] = await readAll(broker.url, 'ce.rtb', 0)
    expect(stored.eventTime).toBeUndefined()
    expect(back[2]).toEqual({
      ...untimed,
      time: stored.time,
      datacontenttype: 'application/json',
    })
  })

  it('binary mode keeps its time; its extensions are strings, as its headers are', async () => {
    await createTopic(broker.url, 'ce.rtbin')
    const res = await api(broker.url, 'POST', '/v1/topics/ce.rtbin/cloudevents', '{"score":3}', {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'bin-rt',
      'ce-source': '/match/42',
      'ce-type': 'game.score',
      'ce-time': '2026-02-01T08:00:00Z',
      'ce-level': '7',
      'ce-region': 'eu%20west',
    })
    expect(res.status).toBe(201)
    expect(await readBatch('ce.rtbin')).toEqual([
      {
        specversion: '1.0',
        id: 'bin-rt',
        source: '/match/42',
        type: 'game.score',
        time: '2026-02-01T08:00:00.000Z',
        datacontenttype: 'application/json',
        level: '7',
        region: 'eu west',
        data: { score: 3 },
      },
    ])
    // a payload that is not JSON reads back as data_base64
    const bytes = await fetch(`${broker.url}/v1/topics/ce.rtbin/cloudevents`, {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'ce-specversion': '1.0',
        'ce-id': 'bin-rt-2',
        'ce-source': '/replay',
        'ce-type': 'game.replay.chunk',
      },
      body: new Uint8Array([0, 1, 255]),
    })
    expect(bytes.status).toBe(201)
    const [, chunk] = await readBatch('ce.rtbin')
    expect(chunk).toMatchObject({ datacontenttype: 'application/octet-stream', data_base64: 'AAH/' })
    expect(chunk!.data).toBeUndefined()
  })

  it("a key read of a compacted topic gives the key's latest event as a structured CloudEvent", async () => {
    await createTopic(broker.url, 'ce.table', { cleanup: 'compact' })
    const latest = { ...typed, id: 'rt-k2', kills: 4 }
    const sent = await api(
      broker.url,
      'POST',
      '/v1/topics/ce.table/cloudevents',
      JSON.stringify([{ ...typed, id: 'rt-k1' }, latest]),
      { 'content-type': 'application/cloudevents-batch+json' },
    )
    expect(sent.status).toBe(201)
    const res = await api(broker.url, 'GET', '/v1/topics/ce.table/keys/player-9', undefined, {
      accept: 'application/cloudevents+json',
    })
    expect(res.status).toBe(200)
    expect(res.body).toEqual(latest)
  })

  it('a replay into another topic keeps the event time', async () => {
    await createTopic(broker.url, 'ce.copies')
    const job = await api(broker.url, 'POST', '/v1/replays', {
      topic: 'ce.rt',
      fromOffset: 0,
      target: { topic: 'ce.copies' },
    })
    expect(job.status).toBe(201)
    const copies = await waitFor(
      () => readAll(broker.url, 'ce.copies', 0),
      (events) => events.length === 1,
    )
    expect(copies[0].eventTime).toBe(happened)
  })

  it('a batch read says where the page ends in headers', async () => {
    await createTopic(broker.url, 'ce.pages')
    for (const id of ['a', 'b', 'c'])
      await api(broker.url, 'POST', '/v1/topics/ce.pages/events', { id, data: id })
    const res = await api(
      broker.url,
      'GET',
      '/v1/topics/ce.pages/events?partition=0&from=0&limit=2',
      undefined,
      {
        accept: 'application/cloudevents-batch+json',
      },
    )
    expect(res.body.map((e: { id: string }) => e.id)).toEqual(['a', 'b'])
    expect(res.headers.get('questlog-next')).toBe('2')
    expect(res.headers.get('questlog-cursor')).toBeTruthy()
  })
})

describe('event times on publish', () => {
  it('a plain publish takes `time` as the event time; without it the envelope has no eventTime', async () => {
    await createTopic(broker.url, 'ce.times')
    const timed = await api(broker.url, 'POST', '/v1/topics/ce.times/events', {
      time: '2025-12-31T23:59:59.5-01:00',
      data: 1,
    })
    expect(timed.status).toBe(201)
    await api(broker.url, 'POST', '/v1/topics/ce.times/events', { data: 2 })
    const [a, b] = await readAll(broker.url, 'ce.times', 0)
    expect(a.eventTime).toBe('2026-01-01T00:59:59.500Z')
    expect('eventTime' in b).toBe(false)
  })

  it('an SDK publish gives its time as the event time, over the WebSocket', async () => {
    await createTopic(broker.url, 'ce.sdk')
    const bus = createClient({ brokers: [broker.url] })
    try {
      const happened = new Date('2026-03-01T12:00:00.250Z')
      await bus.publish('ce.sdk', { n: 1 }, { time: happened, key: 'p1' })
      await bus.publish('ce.sdk', { n: 2 }, { key: 'p1' })
      const [a, b] = await readAll(broker.url, 'ce.sdk', 0)
      expect(a.eventTime).toBe(happened.toISOString())
      expect('eventTime' in b).toBe(false)
    } finally {
      await bus.close()
    }
  })

  it('a time without a zone, before 1970 or more than an hour ahead is a 400 naming the field', async () => {
    const ahead = new Date(Date.now() + 2 * 3_600_000).toISOString()
    const cases: Array<[unknown, string]> = [
      [{ time: '2026-03-01T12:00:00', data: 1 }, 'time'],
      [{ time: 'yesterday', data: 1 }, 'time'],
      [{ time: '1969-12-31T23:59:59Z', data: 1 }, 'time'],
      [{ time: ahead, data: 1 }, 'time'],
      [{ events: [{ data: 1 }, { time: ahead, data: 2 }] }, 'events.1.time'],
    ]
    for (const [body, path] of cases) {
      const res = await api(broker.url, 'POST', '/v1/topics/ce.in/events', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.error.details.issues.map((i: { path: string }) => i.path)).toContain(path)
    }
    // within the hour is a producer's clock running a little ahead
    const soon = new Date(Date.now() + 60_000).toISOString()
    expect((await api(broker.url, 'POST', '/v1/topics/ce.in/events', { time: soon, data: 1 })).status).toBe(
      201,
    )
  })
})

describe('hostile CloudEvents input', () => {
  const binary = (extra: Record<string, string>) =>
    api(broker.url, 'POST', '/v1/topics/ce.in/cloudevents', '{}', {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'h-1',
      'ce-source': '/hostile',
      'ce-type': 'game.score',
      ...extra,
    })
  const paths = (res: { body: any }) => res.body.error.details.issues.map((i: { path: string }) => i.path)

  it('a malformed or unstorable percent-escape in any ce-* header is a 400 naming the header', async () => {
    for (const [header, value] of [
      ['ce-id', 'evt-%E0%A4%A'],
      ['ce-source', '%zz'],
      ['ce-region', '100%'],
      ['ce-region', '%C0%80'],
      ['ce-region', '%ED%A0%80'],
      ['ce-region', 'a%00b'],
      ['ce-time', '%E2%82'],
    ] as const) {
      const res = await binary({ [header]: value })
      expect(res.status, `${header}: ${value} → ${JSON.stringify(res.body)}`).toBe(400)
      expect(res.body.error.code).toBe('validation_error')
      expect(paths(res)).toEqual([header])
    }
  })

  it('a bad time is a 400 naming where it was, in every mode', async () => {
    expect(paths(await binary({ 'ce-time': 'not-a-time' }))).toEqual(['ce-time'])
    const structured = { specversion: '1.0', id: 'h-2', source: '/hostile', type: 'game.score', data: 1 }
    const one = await api(
      broker.url,
      'POST',
      '/v1/topics/ce.in/cloudevents',
      JSON.stringify({ ...structured, time: 12 }),
      { 'content-type': 'application/cloudevents+json' },
    )
    expect(one.status).toBe(400)
    expect(paths(one)).toEqual(['time'])
    const batch = await api(
      broker.url,
      'POST',
      '/v1/topics/ce.in/cloudevents',
      JSON.stringify([structured, { ...structured, id: 'h-3', time: '2026-02-30T00:00:00Z' }]),
      { 'content-type': 'application/cloudevents-batch+json' },
    )
    expect(batch.status).toBe(400)
    expect(paths(batch)).toEqual(['1.time'])
  })
})

describe('event status by CloudEvents source + id', () => {
  it('finds the event a producer knows by source + id, and says 404 for a pair never published', async () => {
    await createTopic(broker.url, 'ce.status')
    const ev = { specversion: '1.0', id: 'order-77', source: '/shop/eu', type: 'game.buy', data: {} }
    const sent = await api(broker.url, 'POST', '/v1/topics/ce.status/cloudevents', JSON.stringify(ev), {
      'content-type': 'application/cloudevents+json',
    })
    // the same id from another source is another event
    await api(
      broker.url,
      'POST',
      '/v1/topics/ce.status/cloudevents',
      JSON.stringify({ ...ev, source: '/shop/us' }),
      { 'content-type': 'application/cloudevents+json' },
    )
    const q = (source: string, id: string) =>
      api(
        broker.url,
        'GET',
        `/v1/events/status?source=${encodeURIComponent(source)}&id=${encodeURIComponent(id)}`,
      )
    const found = await q('/shop/eu', 'order-77')
    expect(found.status).toBe(200)
    expect(found.body).toMatchObject({
      id: 'order-77',
      topic: 'ce.status',
      partition: sent.body.partition,
      offset: sent.body.offset,
      type: 'game.buy',
    })
    const other = await q('/shop/us', 'order-77')
    expect(other.body.offset).not.toBe(sent.body.offset)
    const missing = await q('/shop/asia', 'order-77')
    expect(missing.status).toBe(404)
    expect(missing.body.error.details).toMatchObject({ source: '/shop/asia', id: 'order-77' })
    const bad = await api(broker.url, 'GET', '/v1/events/status?source=/shop/eu')
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.issues[0].path).toBe('id')
  })
})
