import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, readAll, startBroker } from './helpers'

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
