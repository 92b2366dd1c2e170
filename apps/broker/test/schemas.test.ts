import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { Broker } from '../src/broker'
import { api, createTopic, readAll, startBroker } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

const kill = z.object({ killer: z.string(), victim: z.string(), weapon: z.enum(['sword', 'bow']) })

describe('schema registry', () => {
  it('rejects an event that fails its schema, with the field path, and stores nothing', async () => {
    await createTopic(broker.url, 'game.kills')
    const v1 = await api(broker.url, 'POST', '/v1/topics/game.kills/schemas', {
      schema: z.toJSONSchema(kill),
    })
    expect(v1.status).toBe(201)
    expect(v1.body.version).toBe(1)

    const ok = await api(broker.url, 'POST', '/v1/topics/game.kills/events', {
      data: { killer: 'a', victim: 'b', weapon: 'bow' },
    })
    expect(ok.status).toBe(201)
    const bad = await api(broker.url, 'POST', '/v1/topics/game.kills/events', {
      events: [
        { data: { killer: 'a', victim: 'b', weapon: 'bow' } },
        { data: { killer: 'a', victim: 7, weapon: 'axe' } },
      ],
    })
    expect(bad.status).toBe(400)
    const paths = bad.body.error.details.issues.map((i: any) => i.path)
    expect(paths).toContain('events.1.data.victim')
    expect(paths).toContain('events.1.data.weapon')
    const stored = await readAll(broker.url, 'game.kills', 0)
    expect(stored).toHaveLength(1)
    expect(stored[0].headers['ql-schema-version']).toBe('1')
  })

  it('registers a compatible version, refuses an incompatible one, and validates by the version named', async () => {
    const v2 = kill.extend({ weapon: z.enum(['sword', 'bow', 'axe']), headshot: z.boolean().optional() })
    const ok = await api(broker.url, 'POST', '/v1/topics/game.kills/schemas', { schema: z.toJSONSchema(v2) })
    expect(ok.status).toBe(201)
    expect(ok.body.version).toBe(2)
    const breaking = kill.extend({ assist: z.string() })
    const refused = await api(broker.url, 'POST', '/v1/topics/game.kills/schemas', {
      schema: z.toJSONSchema(breaking),
    })
    expect(refused.status).toBe(400)
    expect(refused.body.error.details.issues[0].path).toBe('schema.assist')
    expect(refused.body.error.message).toMatch(/backward/)
    expect(
      (await api(broker.url, 'GET', '/v1/topics/game.kills/schemas')).body.schemas.map((s: any) => s.version),
    ).toEqual([1, 2])

    // 'axe' is valid in version 2 (the latest) but not in version 1
    const axe = { killer: 'a', victim: 'b', weapon: 'axe' }
    expect((await api(broker.url, 'POST', '/v1/topics/game.kills/events', { data: axe })).status).toBe(201)
    const old = await api(broker.url, 'POST', '/v1/topics/game.kills/events', { data: axe, schemaVersion: 1 })
    expect(old.status).toBe(400)
    expect(old.body.error.details.issues[0].path).toBe('data.weapon')
    const none = await api(broker.url, 'POST', '/v1/topics/game.kills/events', {
      data: axe,
      schemaVersion: 9,
    })
    expect(none.body.error.details.issues[0].path).toBe('schemaVersion')
  })

  it('diverts invalid events to {topic}.invalid when the topic says dead-letter', async () => {
    await createTopic(broker.url, 'game.chat', { onInvalid: 'dead-letter' })
    await api(broker.url, 'POST', '/v1/topics/game.chat/schemas', {
      schema: z.toJSONSchema(z.object({ text: z.string().max(20) })),
    })
    const res = await api(broker.url, 'POST', '/v1/topics/game.chat/events', {
      events: [{ data: { text: 'gg' } }, { data: { text: 'x'.repeat(50) } }, { data: { text: 'wp' } }],
    })
    expect(res.status).toBe(201)
    expect(res.body.receipts.map((r: any) => r.invalid?.topic ?? null)).toEqual([
      null,
      'game.chat.invalid',
      null,
    ])
    expect((await readAll(broker.url, 'game.chat', 0)).map((e) => e.data.text)).toEqual(['gg', 'wp'])
    const diverted = await readAll(broker.url, 'game.chat.invalid', 0)
    expect(diverted).toHaveLength(1)
    expect(diverted[0].headers['ql-invalid-reason']).toMatch(/data\.text/)
  })
})

describe('schemas from the SDK', () => {
  it("registers defineTopic's zod schema, and the broker checks events against it", async () => {
    const { createClient, defineTopic } = await import('@questlog/sdk-node')
    await createTopic(broker.url, 'game.scores')
    const scores = defineTopic(
      'game.scores',
      z.object({ player: z.string(), points: z.number().int().min(0) }),
    )
    const bus = createClient({ brokers: [broker.url] })
    try {
      expect(await bus.registerSchema(scores)).toMatchObject({ version: 1 })
      const receipt = await bus.publish(scores, { player: 'p1', points: 5 })
      expect(receipt.duplicate).toBe(false)
      // an untyped publisher that skips the SDK's own check is refused by the broker, with the field
      const raw = await api(broker.url, 'POST', '/v1/topics/game.scores/events', {
        data: { player: 'p1', points: -1 },
      })
      expect(raw.body.error.details.issues[0].path).toBe('data.points')
      const loose = defineTopic('game.scores', z.object({ player: z.string() }))
      await expect(bus.registerSchema(loose)).rejects.toMatchObject({ code: 'validation_error' })
      const stored = await readAll(broker.url, 'game.scores', 0)
      expect(stored.map((e) => e.headers['ql-schema-version'])).toEqual(['1'])
    } finally {
      await bus.close()
    }
  })
})
