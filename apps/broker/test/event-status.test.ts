import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, startBroker } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

describe('GET /v1/events/{id}', () => {
  it('says where an event is and, per subscription, whether it is pending, acked, dead or filtered out', async () => {
    await createTopic(broker.url, 'shop.payments')
    const mk = (body: unknown) => api(broker.url, 'POST', '/v1/subscriptions', body)
    await mk({ name: 'ledger', topic: 'shop.payments', mode: 'queue', from: 'earliest' })
    await mk({ name: 'fraud', topic: 'shop.*', mode: 'queue', from: 'earliest' })
    await mk({ name: 'refunds-only', topic: 'shop.payments', typeFilter: 'shop.refund', from: 'earliest' })
    await mk({ name: 'audit', topic: 'shop.payments', mode: 'stream', from: 'earliest' })
    const pub = await api(broker.url, 'POST', '/v1/topics/shop.payments/events', {
      type: 'shop.charge',
      data: { cents: 500 },
    })

    const pull = async (name: string) =>
      (await api(broker.url, 'POST', `/v1/subscriptions/${name}/pull`, { member: 'w', max: 10 })).body
        .deliveries[0]
    const ledger = await pull('ledger')
    await api(broker.url, 'POST', '/v1/subscriptions/ledger/ack', { tokens: [ledger.token] })
    const fraud = await pull('fraud')
    await api(broker.url, 'POST', '/v1/subscriptions/fraud/term', {
      token: fraud.token,
      reason: 'card blocked',
    })

    const status = await api(broker.url, 'GET', `/v1/events/${pub.body.id}`)
    expect(status.status).toBe(200)
    expect(status.body).toMatchObject({
      id: pub.body.id,
      topic: 'shop.payments',
      partition: 0,
      offset: '0',
      type: 'shop.charge',
    })
    const byName = Object.fromEntries(status.body.subscriptions.map((s: any) => [s.name, s]))
    expect(byName.ledger.state).toBe('acked')
    expect(byName.fraud).toMatchObject({ state: 'dead_lettered', reason: 'card blocked' })
    expect(byName['refunds-only'].state).toBe('filtered_out')
    expect(byName.audit.state).toBe('not_delivered')

    const audit = await pull('audit')
    const pending = await api(broker.url, 'GET', `/v1/events/${pub.body.id}`)
    expect(pending.body.subscriptions.find((s: any) => s.name === 'audit').state).toBe('not_delivered')
    await api(broker.url, 'POST', '/v1/subscriptions/audit/ack', { tokens: [audit.token] })
    const acked = await api(broker.url, 'GET', `/v1/events/${pub.body.id}`)
    expect(acked.body.subscriptions.find((s: any) => s.name === 'audit').state).toBe('acked')

    expect((await api(broker.url, 'GET', '/v1/events/01a2184d-5edc-73c9-afb2-3f49ad0db0c5')).status).toBe(404)
  })
})
