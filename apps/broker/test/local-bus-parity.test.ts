import { createLocalBus, defineTopic, type QuestlogClient } from '@questlog/sdk-node'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { brokerWithClients, createTopic, sleep, waitFor } from './helpers'

/** Events with these types go to one topic; each pattern must select exactly its row, on both clients. */
const TYPES = ['game.kill', 'game.match.start', 'game.match.end', 'game.match.end.late', 'chat.kill', 'game']
const PATTERNS: Array<[string, string[]]> = [
  ['game.*', ['game.kill']],
  ['game.>', ['game.kill', 'game.match.start', 'game.match.end', 'game.match.end.late']],
  ['game.match.*', ['game.match.start', 'game.match.end']],
  ['*.kill', ['game.kill', 'chat.kill']],
  ['game', ['game']],
  ['>', TYPES],
]

const score = defineTopic('parity.typed', z.object({ player: z.string(), points: z.number().int().min(0) }))
const BAD = [
  { player: 'p1', points: -1 },
  { player: 7, points: 1.5 },
] as unknown as Array<{ player: string; points: number }>

async function failure(p: Promise<unknown>) {
  const e = (await p.then(
    () => undefined,
    (x) => x,
  )) as { name: string; code: string; details: unknown } | undefined
  return e && { name: e.name, code: e.code, details: e.details }
}

describe('the local bus and the network client: one table of type patterns and typed topics', () => {
  const ctx = brokerWithClients()

  async function networkTypes(client: QuestlogClient, pattern: string, expected: number): Promise<string[]> {
    const got: string[] = []
    const sub = client.subscribe('parity.events', { type: pattern, from: 'earliest' })
    const reading = (async () => {
      for await (const ev of sub) got.push(ev.type)
    })()
    await waitFor(
      async () => got.length,
      (n) => n >= expected,
    )
    await sleep(200) // room for an event the pattern should not have let through
    sub.close()
    await reading
    return got
  }

  it('a type pattern selects the same events on both', async () => {
    await createTopic(ctx.broker.url, 'parity.events')
    const client = ctx.client()
    for (const type of TYPES) await client.publish('parity.events', { type }, { type })

    const bus = createLocalBus({ dispatch: 'sync' })
    const local = PATTERNS.map(() => [] as string[])
    PATTERNS.forEach(([pattern], i) => {
      bus.subscribe('parity.events', { type: pattern, onEvent: (e) => local[i]!.push(e.type) })
    })
    for (const type of TYPES) bus.emit('parity.events', { type }, { type })

    for (const [i, [pattern, expected]] of PATTERNS.entries()) {
      expect({ pattern, types: local[i] }).toEqual({ pattern, types: expected })
      expect({ pattern, types: await networkTypes(client, pattern, expected.length) }).toEqual({
        pattern,
        types: expected,
      })
    }
  })

  it('a typed topic refuses the same payloads with the same error on both, one event or a batch', async () => {
    const client = ctx.client()
    const bus = createLocalBus()
    for (const bad of BAD) {
      const net = await failure(client.publish(score, bad))
      expect(net?.name).toBe('ValidationError')
      expect(await failure(bus.publish(score, bad))).toEqual(net)
      expect(() => bus.emit(score, bad)).toThrow(expect.objectContaining({ name: 'ValidationError' }))
    }
    const batch = [{ data: { player: 'ok', points: 1 } }, ...BAD.map((data) => ({ data }))]
    const net = await failure(client.publishBatch(score, batch))
    expect(JSON.stringify(net?.details)).toContain('events.1.data')
    expect(await failure(bus.publishBatch(score, batch))).toEqual(net)
    expect(bus.stats().published).toBe(0)
  })
})
