import { createClient, isQuestlogError } from '@questlog/sdk-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { webSocketConnections } from '../src/ws/ws-route'
import { api, startBroker } from './helpers'

const ADMIN = `ql_wsauthadmin1_${'a'.repeat(43)}`

describe('WebSocket authentication and ACLs', () => {
  let broker: Broker
  let publisher: string
  beforeAll(async () => {
    broker = await startBroker({ auth: 'on', adminKey: ADMIN })
    const created = await api(
      broker.url,
      'POST',
      '/v1/topics',
      { name: 'ws.auth' },
      { authorization: `Bearer ${ADMIN}` },
    )
    expect(created.status).toBe(201)
    publisher = (
      await broker.services.keys.create({
        name: 'match server',
        rules: [{ effect: 'allow', actions: ['publish'], topics: ['ws.auth'] }],
      })
    ).key
  })
  afterAll(async () => {
    await broker?.stop()
  })

  it('closes a client without a valid credential with a typed AuthError', async () => {
    for (const token of [undefined, `ql_nosuchkey123_${'b'.repeat(43)}`]) {
      const bus = createClient({ brokers: [broker.url], ...(token ? { token } : {}) })
      const ended = await bus.closed()
      expect(isQuestlogError(ended) && ended.code).toBe('unauthorized')
      expect((ended as Error).name).toBe('AuthError')
    }
  })

  it('rejects a publish and ends a subscribe with an AuthError when the key is bad or missing', async () => {
    for (const token of [undefined, `ql_nosuchkey123_${'c'.repeat(43)}`]) {
      const bus = createClient({ brokers: [broker.url], ...(token ? { token } : {}) })
      const published = await bus.publish('ws.auth', { n: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((published as Error | undefined)?.name).toBe('AuthError')
      expect(isQuestlogError(published) && published.code).toBe('unauthorized')
      let ended: unknown
      try {
        for await (const _ of bus.subscribe('ws.auth', { from: 'earliest' })) break
      } catch (e) {
        ended = e
      }
      expect((ended as Error | undefined)?.name).toBe('AuthError')
      await bus.close().catch(() => {})
    }
  })

  it('lets a key publish where its rules allow, and refuses what they do not', async () => {
    const bus = createClient({ brokers: [broker.url], token: publisher })
    const receipt = await bus.publish('ws.auth', { ok: true })
    expect(receipt.duplicate).toBe(false)
    await expect(bus.publish('ws.other', { ok: false })).rejects.toMatchObject({ code: 'forbidden' })
    let refused: unknown
    try {
      for await (const _ of bus.subscribe('ws.auth', { from: 'earliest' })) break
    } catch (e) {
      refused = e
    }
    expect(isQuestlogError(refused) && refused.code).toBe('forbidden')
    await bus.close()
    const stored = await api(broker.url, 'GET', '/v1/topics/ws.auth/events?partition=0&from=0', undefined, {
      authorization: `Bearer ${ADMIN}`,
    })
    expect(stored.body.events.map((e: { data: unknown }) => e.data)).toEqual([{ ok: true }])
  })
  it('asks a token function for a fresh credential on each connect', async () => {
    let asked = 0
    const bus = createClient({
      brokers: [broker.url],
      token: async () => {
        asked++
        return publisher
      },
      backoff: { initialMs: 10, maxMs: 50 },
    })
    await bus.publish('ws.auth', { n: 1 })
    for (const c of webSocketConnections(broker.services)) c.terminate()
    await bus.publish('ws.auth', { n: 2 })
    expect(asked).toBe(2)
    await bus.close()
  })
})
