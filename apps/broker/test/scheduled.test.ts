import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, freshDatabase, readAll, sleep, startBroker } from './helpers'

let databaseUrl: string
let broker: Broker
beforeAll(async () => {
  databaseUrl = await freshDatabase()
  broker = await startBroker({ databaseUrl })
})
afterAll(() => broker.stop())

describe('scheduled delivery', () => {
  it('writes the event at its time, not before, and a cancelled one never', async () => {
    await createTopic(broker.url, 'liveops.events')
    const t0 = Date.now()
    const due = await api(broker.url, 'POST', '/v1/topics/liveops.events/scheduled', {
      event: { type: 'liveops.double_xp', data: { multiplier: 2 } },
      delayMs: 1200,
    })
    expect(due.status).toBe(201)
    const cancelled = await api(broker.url, 'POST', '/v1/topics/liveops.events/scheduled', {
      event: { type: 'liveops.sale', data: { off: 50 } },
      deliverAt: new Date(t0 + 1200).toISOString(),
    })
    expect((await api(broker.url, 'GET', '/v1/scheduled?topic=liveops.events')).body.scheduled).toHaveLength(
      2,
    )
    expect((await api(broker.url, 'DELETE', `/v1/scheduled/${cancelled.body.id}`)).status).toBe(204)
    expect((await api(broker.url, 'DELETE', `/v1/scheduled/${cancelled.body.id}`)).status).toBe(404)

    await sleep(900)
    expect(await readAll(broker.url, 'liveops.events', 0)).toEqual([])
    let events: any[] = []
    while (events.length === 0 && Date.now() - t0 < 5000) {
      await sleep(50)
      events = await readAll(broker.url, 'liveops.events', 0)
    }
    const arrived = Date.now() - t0
    expect(events.map((e) => e.type)).toEqual(['liveops.double_xp'])
    expect(events[0].id).toBe(due.body.id)
    expect(new Date(events[0].time).getTime()).toBeGreaterThanOrEqual(t0 + 1200)
    // within a second of its time
    expect(arrived).toBeLessThan(1200 + 1000)
    await sleep(300)
    expect(await readAll(broker.url, 'liveops.events', 0)).toHaveLength(1)
  })

  it('delivers events that fell due while no broker was running', async () => {
    await createTopic(broker.url, 'liveops.later')
    const res = await api(broker.url, 'POST', '/v1/topics/liveops.later/scheduled', {
      event: { data: 'after restart' },
      delayMs: 500,
    })
    expect(res.status).toBe(201)
    await broker.stop()
    await sleep(800)
    broker = await startBroker({ databaseUrl })
    let events: any[] = []
    const t = Date.now()
    while (events.length === 0 && Date.now() - t < 3000) {
      await sleep(50)
      events = await readAll(broker.url, 'liveops.later', 0)
    }
    expect(events.map((e) => e.data)).toEqual(['after restart'])
  })

  it('refuses a schedule without a time, or with a bad event', async () => {
    const none = await api(broker.url, 'POST', '/v1/topics/liveops.events/scheduled', { event: { data: 1 } })
    expect(none.status).toBe(400)
    expect(none.body.error.details.issues[0].path).toBe('deliverAt')
    const bad = await api(broker.url, 'POST', '/v1/topics/liveops.events/scheduled', {
      event: { type: 7 },
      delayMs: 10,
    })
    expect(bad.body.error.details.issues.map((i: any) => i.path)).toContain('event.type')
  })
})

describe('scheduled delivery from the SDK', () => {
  it('publish with deliverAt schedules, and cancelScheduled cancels', async () => {
    const { createClient } = await import('@questlog/sdk-node')
    await createTopic(broker.url, 'liveops.sdk')
    const bus = createClient({ brokers: [broker.url] })
    try {
      const soon = await bus.publish(
        'liveops.sdk',
        { event: 'double-xp' },
        { delayMs: 300, type: 'liveops.double_xp' },
      )
      const later = await bus.publish(
        'liveops.sdk',
        { event: 'sale' },
        { deliverAt: new Date(Date.now() + 60_000) },
      )
      expect(soon.deliverAt).toMatch(/Z$/)
      await bus.cancelScheduled(later.id)
      let events: any[] = []
      const t = Date.now()
      while (events.length === 0 && Date.now() - t < 5000) {
        await sleep(50)
        events = await readAll(broker.url, 'liveops.sdk', 0)
      }
      expect(events.map((e) => [e.id, e.type])).toEqual([[soon.id, 'liveops.double_xp']])
      await expect(bus.cancelScheduled(later.id)).rejects.toMatchObject({ code: 'not_found' })
    } finally {
      await bus.close()
    }
  })
})
