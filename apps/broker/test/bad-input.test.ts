import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, startBroker } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
  await createTopic(broker.url, 'game.events', { partitions: 2, maxEventBytes: 1024 })
})
afterAll(() => broker.stop())

async function nextOffsets(): Promise<string[]> {
  const res = await api(broker.url, 'GET', '/v1/topics/game.events')
  return res.body.partitionInfo.map((p: { next: string }) => p.next)
}

function expectError(res: { status: number; body: any }, status: number, code: string, path?: string) {
  expect(res.status).toBe(status)
  expect(res.body.error.code).toBe(code)
  expect(typeof res.body.error.message).toBe('string')
  if (path !== undefined) expect(res.body.error.details.issues.map((i: any) => i.path)).toContain(path)
}

describe('bad input gets a clear JSON error and stores nothing', () => {
  const post = (body: unknown, headers?: Record<string, string>) =>
    api(broker.url, 'POST', '/v1/topics/game.events/events', body, headers)

  it('answers each kind of bad request with its code, status and field path', async () => {
    const before = await nextOffsets()

    expectError(await post('{"data": '), 400, 'bad_request')
    expectError(await post('[1,2]'), 400, 'bad_request')
    expectError(await post({ type: 5, data: 1 }), 400, 'validation_error', 'type')
    expectError(await post({ type: 'game..kill', data: 1 }), 400, 'validation_error', 'type')
    expectError(await post({ key: 'p1' }), 400, 'validation_error', 'data')
    expectError(await post({ data: 1, patition: 1 }), 400, 'validation_error')
    expectError(
      await post({ events: [{ data: 1 }, { data: 2, headers: { a: 5 } }] }),
      400,
      'validation_error',
      'events.1.headers.a',
    )
    expectError(await post({ events: [] }), 400, 'validation_error', 'events')
    expectError(await post({ data: 1, partition: 7 }), 400, 'validation_error', 'partition')
    expectError(
      await post({ events: [{ data: 1 }, { data: 1, partition: -1 }] }),
      400,
      'validation_error',
      'events.1.partition',
    )
    expectError(await post({ data: 'x'.repeat(2000) }), 413, 'payload_too_large')
    expectError(await post({ events: [{ data: 1 }, { data: 'x'.repeat(2000) }] }), 413, 'payload_too_large')
    expectError(await post('hello', { 'content-type': 'text/plain' }), 400, 'bad_request')
    expectError(
      await api(broker.url, 'POST', '/v1/topics/no.such.topic/events', { data: 1 }),
      404,
      'topic_not_found',
    )
    expectError(
      await api(broker.url, 'POST', '/v1/topics/bad%20name/events', { data: 1 }),
      400,
      'validation_error',
      'topic',
    )

    // nothing of any rejected request was stored, not even the valid events of a rejected batch
    expect(await nextOffsets()).toEqual(before)
  })

  it('rejects bad read parameters', async () => {
    const get = (q: string) => api(broker.url, 'GET', `/v1/topics/game.events/events?${q}`)
    expectError(await get('partition=9'), 400, 'validation_error', 'partition')
    expectError(await get('partition=abc'), 400, 'validation_error', 'partition')
    expectError(await get('partition=0&from=-3'), 400, 'validation_error', 'from')
    expectError(await get('partition=0&from=999999'), 400, 'validation_error', 'from')
    expectError(await get('limit=0'), 400, 'validation_error', 'limit')
    expectError(await get('since=yesterday-ish'), 400, 'validation_error', 'since')
    expectError(await get('since=1h&until=2h'), 400, 'validation_error', 'until')
    expectError(await get('type=game.>.x'), 400, 'validation_error', 'type')
    expectError(await get('cursor=not-a-cursor'), 400, 'validation_error', 'cursor')
    expectError(await get('bogus=1'), 400, 'validation_error')
    expectError(await api(broker.url, 'GET', '/v1/topics/nope/events'), 404, 'topic_not_found')
    expectError(await api(broker.url, 'GET', '/v1/nothing-here'), 404, 'not_found')
  })

  it('rejects bad topic settings with the field path and creates nothing', async () => {
    const create = (body: unknown) => api(broker.url, 'POST', '/v1/topics', body)
    expectError(await create({ name: 'ok.name', partitions: 0 }), 400, 'validation_error', 'partitions')
    expectError(await create({ name: 'ok.name', partitions: 1.5 }), 400, 'validation_error', 'partitions')
    expectError(await create({ name: 'has space' }), 400, 'validation_error', 'name')
    expectError(await create({ name: 'ok.name', retentionMs: 5 }), 400, 'validation_error', 'retentionMs')
    expectError(await create({ name: 'game.events' }), 409, 'topic_exists')
    expectError(
      await api(broker.url, 'PATCH', '/v1/topics/game.events', { partitions: 1 }),
      400,
      'validation_error',
      'partitions',
    )
    const list = await api(broker.url, 'GET', '/v1/topics')
    expect(list.body.topics.map((t: { name: string }) => t.name)).toEqual(['game.events'])
  })

  it('rejects bad CloudEvents', async () => {
    const ce = (headers: Record<string, string>, body: string) =>
      api(broker.url, 'POST', '/v1/topics/game.events/cloudevents', body, headers)
    const before = await nextOffsets()
    expectError(
      await ce({ 'content-type': 'application/json', 'ce-id': '1' }, '{}'),
      400,
      'validation_error',
      'ce-specversion',
    )
    expectError(
      await ce(
        { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': '1', 'ce-type': 'game.kill' },
        '{}',
      ),
      400,
      'validation_error',
      'ce-source',
    )
    expectError(
      await ce(
        {
          'content-type': 'application/json',
          'ce-specversion': '0.3',
          'ce-id': '1',
          'ce-source': '/s',
          'ce-type': 'game.kill',
        },
        '{}',
      ),
      400,
      'validation_error',
      // a binary event's attributes are named by their headers
      'ce-specversion',
    )
    expectError(
      await ce(
        {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': '1',
          'ce-source': '/s',
          'ce-type': 'game.kill',
        },
        '{oops',
      ),
      400,
      'bad_request',
    )
    expectError(
      await ce({ 'content-type': 'application/cloudevents+json' }, '{"specversion":"1.0","id":"1"}'),
      400,
      'validation_error',
      'source',
    )
    expectError(
      await ce({ 'content-type': 'application/cloudevents-batch+json' }, '[]'),
      400,
      'validation_error',
    )
    expect(await nextOffsets()).toEqual(before)
  })

  it('keeps serving after all of that', async () => {
    const health = await api(broker.url, 'GET', '/health')
    expect(health.status).toBe(200)
    expect(health.body.status).toBe('ok')
    const ok = await api(broker.url, 'POST', '/v1/topics/game.events/events', { data: { fine: true } })
    expect(ok.status).toBe(201)
    const metrics = await fetch(`${broker.url}/metrics`).then((r) => r.text())
    expect(metrics).toMatch(/questlog_rejected_requests_total\{reason="validation_error"\} [1-9]/)
  })
})
