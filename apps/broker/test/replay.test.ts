import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, readAll, sleep, startBroker } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

async function waitJob(id: string, status: string, timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const job = (await api(broker.url, 'GET', `/v1/replays/${id}`)).body
    if (job.status === status) return job
    if (Date.now() > deadline) throw new Error(`job ${id} is ${job.status}, not ${status}`)
    await sleep(50)
  }
}

describe('replay jobs', () => {
  it('delivers exactly the events of a time range that match the filter, with progress to 100%', async () => {
    await createTopic(broker.url, 'game.log', { partitions: 2 })
    const publish = (events: unknown[]) => api(broker.url, 'POST', '/v1/topics/game.log/events', { events })
    await publish([{ type: 'game.kill', key: 'a', data: 'before' }])
    await sleep(50)
    const since = new Date().toISOString()
    await publish([
      { type: 'game.kill', key: 'a', data: 'in-1', headers: { region: 'eu' } },
      { type: 'game.score', key: 'b', data: 'other type' },
      { type: 'game.kill', key: 'c', data: 'in-2', headers: { region: 'eu' } },
      { type: 'game.kill', key: 'd', data: 'wrong region', headers: { region: 'us' } },
    ])
    await sleep(50)
    const until = new Date().toISOString()
    await sleep(20)
    await publish([{ type: 'game.kill', key: 'a', data: 'after', headers: { region: 'eu' } }])

    const created = await api(broker.url, 'POST', '/v1/replays', {
      topic: 'game.log',
      since,
      until,
      filter: { type: 'game.kill', headers: { region: 'eu' } },
      target: { subscription: 'postmortem' },
    })
    expect(created.status).toBe(201)
    const done = await waitJob(created.body.id, 'done')
    expect(done).toMatchObject({ percent: 100, delivered: 2, scanned: 4, total: 4 })

    const pulled = await api(broker.url, 'POST', '/v1/subscriptions/postmortem/pull', {
      member: 'm',
      max: 100,
    })
    expect(pulled.body.deliveries.map((d: any) => d.event.data).sort()).toEqual(['in-1', 'in-2'])

    // into another topic: copies that say where they came from
    await createTopic(broker.url, 'game.log.copy')
    const toTopic = await api(broker.url, 'POST', '/v1/replays', {
      topic: 'game.log',
      fromOffset: 0,
      filter: { key: 'a' },
      target: { topic: 'game.log.copy' },
    })
    await waitJob(toTopic.body.id, 'done')
    const copies = await readAll(broker.url, 'game.log.copy', 0)
    expect(copies.map((e) => e.data)).toEqual(['before', 'in-1', 'after'])
    expect(copies[0].headers['ql-replay-source']).toMatch(/^game\.log\/\d\/\d+$/)
  })

  it('can be cancelled midway and says so', async () => {
    await createTopic(broker.url, 'game.bulk')
    for (let i = 0; i < 5; i++) {
      await api(broker.url, 'POST', '/v1/topics/game.bulk/events', {
        events: Array.from({ length: 1000 }, (_, j) => ({ data: i * 1000 + j })),
      })
    }
    const created = await api(broker.url, 'POST', '/v1/replays', {
      topic: 'game.bulk',
      fromOffset: 0,
      maxEventsPerSecond: 2000,
      target: { subscription: 'bulk-replay' },
    })
    await sleep(600)
    const running = (await api(broker.url, 'GET', `/v1/replays/${created.body.id}`)).body
    expect(running.status).toBe('running')
    expect(running.percent).toBeGreaterThan(0)
    expect(running.percent).toBeLessThan(100)
    const cancelled = await api(broker.url, 'POST', `/v1/replays/${created.body.id}/cancel`)
    expect(cancelled.body.status).toBe('cancelled')
    await sleep(500)
    const final = (await api(broker.url, 'GET', `/v1/replays/${created.body.id}`)).body
    expect(final.status).toBe('cancelled')
    expect(final.delivered).toBeLessThan(5000)
    const list = await api(broker.url, 'GET', '/v1/replays')
    expect(list.body.replays.map((r: any) => r.id)).toContain(created.body.id)
  })

  it('refuses bad ranges and targets and creates nothing', async () => {
    await createTopic(broker.url, 'game.small')
    const bad = async (body: unknown, path: string) => {
      const res = await api(broker.url, 'POST', '/v1/replays', body)
      expect(res.status).toBe(400)
      expect(res.body.error.details.issues.map((i: any) => i.path)).toContain(path)
    }
    await bad({ topic: 'game.small', since: '1h', until: '2h', target: { topic: 'x' } }, 'until')
    await bad({ topic: 'game.small', fromOffset: 5, toOffset: 2, target: { topic: 'x' } }, 'toOffset')
    await bad({ topic: 'game.small', target: { topic: 'x' } }, 'since')
    await bad({ topic: 'game.small', fromOffset: 0, target: { topic: 'game.small' } }, 'target.topic')
    const missing = await api(broker.url, 'POST', '/v1/replays', {
      topic: 'nope',
      fromOffset: 0,
      target: { topic: 'x' },
    })
    expect(missing.status).toBe(404)
    expect(
      (await api(broker.url, 'GET', '/v1/replays')).body.replays.filter((r: any) => r.topic === 'game.small'),
    ).toEqual([])
  })
})
