import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, sleep, startBroker } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

describe('publisher confirmations', () => {
  it('answers only after n consumers acked, and times out distinctly when they do not', async () => {
    await createTopic(broker.url, 'economy.grants')
    await api(broker.url, 'POST', '/v1/subscriptions', {
      name: 'wallet',
      topic: 'economy.grants',
      mode: 'queue',
    })
    const consumer = (async () => {
      for (;;) {
        const res = await api(broker.url, 'POST', '/v1/subscriptions/wallet/pull', {
          member: 'w',
          max: 10,
          waitMs: 2000,
        })
        if (res.body.deliveries.length > 0) {
          await sleep(300)
          await api(broker.url, 'POST', '/v1/subscriptions/wallet/ack', {
            tokens: res.body.deliveries.map((d: any) => d.token),
          })
          return Date.now()
        }
      }
    })()
    const t0 = Date.now()
    const res = await api(
      broker.url,
      'POST',
      '/v1/topics/economy.grants/events?confirm=1&confirmTimeoutMs=5000',
      {
        data: { gold: 100 },
      },
    )
    const answered = Date.now()
    const ackedAt = await consumer
    expect(res.status).toBe(201)
    expect(res.body.confirmed).toBe(1)
    expect(answered).toBeGreaterThanOrEqual(ackedAt)
    expect(answered - t0).toBeGreaterThanOrEqual(300)

    const timeout = await api(
      broker.url,
      'POST',
      '/v1/topics/economy.grants/events?confirm=2&confirmTimeoutMs=400',
      {
        data: { gold: 1 },
      },
    )
    expect(timeout.status).toBe(504)
    expect(timeout.body.error.code).toBe('timeout')
    expect(timeout.body.error.message).toMatch(/stay published/)
  })
})

describe('publisher confirmations from the SDK', () => {
  it('publish with confirm resolves after the acks, or rejects with a TimeoutError', async () => {
    const { createClient, isQuestlogError } = await import('@questlog/sdk-node')
    await createTopic(broker.url, 'economy.sdk')
    await api(broker.url, 'POST', '/v1/subscriptions', {
      name: 'wallet-sdk',
      topic: 'economy.sdk',
      mode: 'queue',
    })
    const bus = createClient({ brokers: [broker.url] })
    try {
      const acker = (async () => {
        for (;;) {
          const res = await api(broker.url, 'POST', '/v1/subscriptions/wallet-sdk/pull', {
            member: 'w',
            max: 10,
            waitMs: 2000,
          })
          if (res.body.deliveries.length > 0) {
            await api(broker.url, 'POST', '/v1/subscriptions/wallet-sdk/ack', {
              tokens: res.body.deliveries.map((d: any) => d.token),
            })
            return
          }
        }
      })()
      const receipt = await bus.publish('economy.sdk', { gold: 5 }, { confirm: 1, confirmTimeoutMs: 10_000 })
      await acker
      expect(receipt.offset).toBe('0')
      const failed = await bus
        .publish('economy.sdk', { gold: 6 }, { confirm: 2, confirmTimeoutMs: 300 })
        .catch((e) => e)
      expect(isQuestlogError(failed) && failed.code).toBe('timeout')
    } finally {
      await bus.close()
    }
  })
})
