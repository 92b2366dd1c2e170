import { isQuestlogError, matchSubject } from '@questlog/protocol'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { OverrunPolicy } from './buffer'
import { createLocalBus, type DispatchMode } from './local-bus'
import type { LocalEvent } from './local-event'
import { defineTopic } from './topic'

const settled = (p: Promise<unknown>, outcomes: string[], n: number) =>
  p.then(
    () => {
      outcomes[n] = 'stored'
    },
    (e) => {
      outcomes[n] = isQuestlogError(e) ? e.name : String(e)
    },
  )

const tick = () => new Promise((r) => setTimeout(r, 0))

describe('local bus: overrun policies and their counters (the shared table is in apps/broker/test/ws-overrun.test.ts)', () => {
  // 15 events into a buffer of 10 while nothing is dispatched (the caller's synchronous code runs)
  async function scenario(overrun: OverrunPolicy, sent = 15) {
    const bus = createLocalBus({ capacity: 10, overrun })
    const got: number[] = []
    bus.subscribe<{ n: number }>('local.overrun', { onEvent: (e) => got.push(e.data.n) })
    const outcomes: string[] = new Array(sent).fill('pending')
    const publishes = Array.from({ length: sent }, (_, n) =>
      settled(bus.publish('local.overrun', { n }), outcomes, n),
    )
    // still inside the caller's synchronous code: nothing dispatched yet
    const statsWhileFull = bus.stats()
    // lets the refusals and drops (settled during publish) be seen, not the receipts of the dispatch
    await Promise.resolve()
    const whileFull = [...outcomes]
    await Promise.all(publishes)
    await bus.close()
    return { whileFull, statsWhileFull, outcomes, got, stats: bus.stats() }
  }

  it('drop-oldest drops the five oldest, reports them, and delivers the newest ten', async () => {
    const r = await scenario('drop-oldest')
    expect(r.statsWhileFull.dropped).toBe(5)
    expect(r.whileFull.slice(0, 5)).toEqual(Array(5).fill('EventDroppedError'))
    expect(r.got).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
    expect(r.outcomes.slice(5)).toEqual(Array(10).fill('stored'))
  })

  it('drop-newest drops the five newest, reports them, and delivers the first ten', async () => {
    const r = await scenario('drop-newest')
    expect(r.statsWhileFull.dropped).toBe(5)
    expect(r.whileFull.slice(10)).toEqual(Array(5).fill('EventDroppedError'))
    expect(r.got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('error refuses the five that do not fit with a typed BufferFullError', async () => {
    const r = await scenario('error')
    expect(r.whileFull.slice(10)).toEqual(Array(5).fill('BufferFullError'))
    expect(r.whileFull.slice(0, 10)).toEqual(Array(10).fill('pending'))
    expect(r.got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(r.stats.refused).toBe(5)
  })

  it('block holds what does not fit until there is room, then delivers everything in order', async () => {
    const r = await scenario('block', 25)
    expect(r.statsWhileFull).toMatchObject({ dropped: 0, buffered: 10, blocked: 15 })
    expect(r.whileFull).toEqual(Array(25).fill('pending'))
    expect(r.outcomes).toEqual(Array(25).fill('stored'))
    expect(r.got).toEqual(Array.from({ length: 25 }, (_, n) => n))
  })

  it('emit throws BufferFullError under `error`, and returns a promise only when `block` holds it back', async () => {
    const strict = createLocalBus({ capacity: 2, overrun: 'error' })
    expect(strict.emit('a.b', 1)).toBeUndefined()
    expect(strict.emit('a.b', 2)).toBeUndefined()
    expect(() => strict.emit('a.b', 3)).toThrow(expect.objectContaining({ name: 'BufferFullError' }))
    const patient = createLocalBus({ capacity: 1, overrun: 'block' })
    const got: number[] = []
    patient.subscribe<number>('a.b', { onEvent: (e) => got.push(e.data) })
    expect(patient.emit('a.b', 1)).toBeUndefined()
    const held = patient.emit('a.b', 2)
    expect(held).toBeInstanceOf(Promise)
    await held
    await patient.flush()
    expect(got).toEqual([1, 2])
  })
})

describe('local bus: dispatch modes', () => {
  it('sync delivers inside publish; an event published by a handler waits for the current one', () => {
    const bus = createLocalBus({ dispatch: 'sync' })
    const log: string[] = []
    bus.subscribe<string>('g.a', {
      onEvent: (e) => {
        log.push(`1:${e.data}`)
        if (e.data === 'x') bus.emit('g.a', 'y')
      },
    })
    bus.subscribe<string>('g.a', { onEvent: (e) => log.push(`2:${e.data}`) })
    bus.emit('g.a', 'x')
    // the second subscriber gets x before anyone gets y: every subscriber sees publish order
    expect(log).toEqual(['1:x', '2:x', '1:y', '2:y'])
  })

  it('microtask delivers after the caller’s synchronous code, before any timer', async () => {
    const bus = createLocalBus({ dispatch: 'microtask' })
    const got: number[] = []
    bus.subscribe<number>('g.a', { onEvent: (e) => got.push(e.data) })
    bus.emit('g.a', 1)
    bus.emit('g.a', 2)
    expect(got).toEqual([])
    await Promise.resolve()
    expect(got).toEqual([1, 2])
  })

  it('manual delivers only on drain()', async () => {
    const bus = createLocalBus({ dispatch: 'manual' })
    const got: number[] = []
    bus.subscribe<number>('g.a', { onEvent: (e) => got.push(e.data) })
    bus.emit('g.a', 1)
    bus.emit('g.a', 2)
    await tick()
    expect(got).toEqual([])
    expect(bus.drain()).toBe(2)
    expect(got).toEqual([1, 2])
    expect(bus.drain()).toBe(0)
  })
})

describe('local bus: topics, patterns and typed topics', () => {
  const score = defineTopic('game.score', z.object({ player: z.string(), points: z.number().int() }))

  it('checks a typed topic’s payload: publish rejects, emit throws, with the field path; nothing is dispatched', async () => {
    const bus = createLocalBus({ dispatch: 'sync' })
    const got: unknown[] = []
    bus.subscribe(score, { onEvent: (e) => got.push(e.data) })
    const bad = { player: 'p1', points: 1.5 }
    await expect(bus.publish(score, bad)).rejects.toMatchObject({
      name: 'ValidationError',
      code: 'validation_error',
    })
    const err = await bus.publish(score, bad).catch((e) => e)
    expect(JSON.stringify(err.details)).toContain('data.points')
    expect(() => bus.emit(score, bad)).toThrow(expect.objectContaining({ name: 'ValidationError' }))
    const receipt = await bus.publish(score, { player: 'p1', points: 3 }, { key: 'p1' })
    expect(receipt).toMatchObject({ partition: 0, offset: '0', duplicate: false })
    expect(got).toEqual([{ player: 'p1', points: 3 }])
    expect(bus.stats().published).toBe(1)
  })

  it('checks every entry of a batch before queuing any, naming the entry in the field path', async () => {
    const bus = createLocalBus({ dispatch: 'sync' })
    const got: unknown[] = []
    bus.subscribe(score, { onEvent: (e) => got.push(e.data) })
    const err = await bus
      .publishBatch(score, [{ data: { player: 'a', points: 1 } }, { data: { player: 'b', points: 0.5 } }])
      .catch((e) => e)
    expect(err.name).toBe('ValidationError')
    expect(JSON.stringify(err.details)).toContain('events.1.data.points')
    expect(got).toEqual([])
    const receipts = await bus.publishBatch(score, [
      { data: { player: 'a', points: 1 } },
      { data: { player: 'b', points: 2 }, key: 'b' },
    ])
    expect(receipts.map((r) => r.offset)).toEqual(['0', '1'])
  })

  it('gives each event the envelope fields of the network client', async () => {
    const bus = createLocalBus({ source: 'match-7' })
    const sub = bus.subscribe(score)
    await bus.publish(
      score,
      { player: 'p1', points: 1 },
      { key: 'p1', type: 'game.score.kill', headers: { a: 'b' } },
    )
    const it = sub[Symbol.asyncIterator]()
    const ev = (await it.next()).value as LocalEvent
    expect(ev).toMatchObject({
      topic: 'game.score',
      type: 'game.score.kill',
      key: 'p1',
      partition: 0,
      offset: '0',
      source: 'match-7',
      headers: { a: 'b' },
      contentType: 'application/json',
      redelivery: 0,
    })
    expect(ev.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/)
    expect(Date.parse(ev.time)).toBeGreaterThan(Date.now() - 60_000)
    await expect(ev.ack()).resolves.toBeUndefined()
    expect(() => ev.nak()).toThrow(/broker/)
  })

  it('refuses bad topic names and patterns', async () => {
    const bus = createLocalBus()
    await expect(bus.publish('game..x', 1)).rejects.toThrow(/invalid topic name/)
    expect(() => bus.emit('game.*', 1)).toThrow(/invalid topic name/)
    expect(() => bus.subscribe('game.>.x')).toThrow(/invalid topic pattern/)
    expect(() => bus.subscribe('g', { type: 'a..b' })).toThrow()
  })

  it('filters by type pattern, key and partition as a broker subscription does', async () => {
    const bus = createLocalBus({ dispatch: 'sync' })
    const byType: string[] = []
    const byKey: string[] = []
    bus.subscribe('game.events', { type: 'game.match.*', onEvent: (e) => byType.push(e.type) })
    bus.subscribe('game.events', {
      key: 'p2',
      partition: 1,
      onEvent: (e) => byKey.push(`${e.key}/${e.partition}`),
    })
    bus.emit('game.events', 0, { type: 'game.match.start', key: 'p1' })
    bus.emit('game.events', 0, { type: 'game.match.end.late', key: 'p2', partition: 1 })
    bus.emit('game.events', 0, { type: 'game.match.end', key: 'p2', partition: 0 })
    expect(byType).toEqual(['game.match.start', 'game.match.end'])
    expect(byKey).toEqual(['p2/1'])
  })

  it('delivers to a topic pattern exactly the topics the protocol’s matcher accepts', () => {
    const token = fc.constantFrom('game', 'match', 'kill', 'a', 'b')
    const topic = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'))
    const pattern = fc
      .array(fc.oneof(token, fc.constant('*')), { minLength: 1, maxLength: 4 })
      .chain((t) => fc.boolean().map((tail) => (tail ? [...t, '>'] : t).join('.')))
    fc.assert(
      fc.property(
        fc.array(pattern, { minLength: 1, maxLength: 4 }),
        fc.array(topic, { maxLength: 30 }),
        (patterns, topics) => {
          const bus = createLocalBus({ dispatch: 'sync' })
          const got = patterns.map(() => [] as string[])
          patterns.forEach((p, i) => {
            bus.subscribe(p, { onEvent: (e) => got[i]!.push(e.topic) })
          })
          for (const t of topics) bus.emit(t, null)
          patterns.forEach((p, i) => {
            expect(got[i]).toEqual(topics.filter((t) => matchSubject(p, t)))
          })
        },
      ),
    )
  })
})

describe('local bus: slow subscribers, order and counts', () => {
  it('a full iterated subscriber makes dispatch wait; the buffer then fills and the policy decides', async () => {
    const bus = createLocalBus({ capacity: 4, subscriberCapacity: 2, overrun: 'drop-oldest' })
    const fast: number[] = []
    bus.subscribe<number>('g.a', { onEvent: (e) => fast.push(e.data) })
    const slow = bus.subscribe<number>('g.a')
    for (let n = 0; n < 3; n++) bus.emit('g.a', n)
    await tick()
    // two in the slow inbox, the third waits in the buffer (for everyone: one order for all)
    expect(fast).toEqual([0, 1])
    expect(slow.pending).toBe(2)
    for (let n = 3; n < 10; n++) bus.emit('g.a', n)
    expect(bus.stats()).toMatchObject({ buffered: 4, dropped: 4 })
    const read: number[] = []
    for await (const e of slow) {
      read.push(e.data)
      if (read.length === 6) break
    }
    expect(read).toEqual([0, 1, 6, 7, 8, 9])
    expect(fast).toEqual([0, 1, 6, 7, 8, 9])
  })

  it('a closed subscriber stops holding dispatch back; its iteration ends after what it holds', async () => {
    const bus = createLocalBus({ subscriberCapacity: 1 })
    const fast: number[] = []
    bus.subscribe<number>('g.a', { onEvent: (e) => fast.push(e.data) })
    const slow = bus.subscribe<number>('g.a')
    for (let n = 0; n < 5; n++) bus.emit('g.a', n)
    await tick()
    expect(fast).toEqual([0])
    slow.close()
    await tick()
    expect(fast).toEqual([0, 1, 2, 3, 4])
    const rest: number[] = []
    for await (const e of slow) rest.push(e.data)
    expect(rest).toEqual([0])
  })

  it('a throwing handler is counted and reported, and the other subscribers still get the event', async () => {
    const errors: unknown[] = []
    const bus = createLocalBus({ dispatch: 'sync', onHandlerError: (e) => errors.push(e) })
    const got: number[] = []
    bus.subscribe<number>('g.a', {
      onEvent: () => {
        throw new Error('boom')
      },
    })
    bus.subscribe<number>('g.a', { onEvent: (e) => got.push(e.data) })
    const receipt = await bus.publish('g.a', 1)
    expect(receipt.offset).toBe('0')
    expect(got).toEqual([1])
    expect(errors).toEqual([new Error('boom')])
    expect(bus.stats().handlerErrors).toBe(1)
  })

  it('one subscription is iterated or called back, not both; closing refuses further publishes', async () => {
    const bus = createLocalBus()
    const cb = bus.subscribe('g.a', { onEvent: () => {} })
    expect(() => cb[Symbol.asyncIterator]()).toThrow(/onEvent/)
    const sub = bus.subscribe<number>('g.a')
    bus.emit('g.a', 1)
    await bus.close()
    await expect(bus.publish('g.a', 2)).rejects.toMatchObject({ name: 'ClientClosedError' })
    expect(() => bus.subscribe('g.a')).toThrow(/closed/)
    const rest: number[] = []
    for await (const e of sub) rest.push(e.data)
    expect(rest).toEqual([1])
  })

  it('close refuses new publishes at once, and still dispatches what was queued or held back', async () => {
    const bus = createLocalBus({ dispatch: 'manual', capacity: 2, overrun: 'block' })
    const got: number[] = []
    bus.subscribe<number>('g.a', { onEvent: (e) => got.push(e.data) })
    const receipts = [1, 2, 3].map((n) => bus.publish('g.a', n))
    expect(bus.stats()).toMatchObject({ buffered: 2, blocked: 1 })
    const closing = bus.close()
    await expect(bus.publish('g.a', 4)).rejects.toMatchObject({ name: 'ClientClosedError' })
    await closing
    expect((await Promise.all(receipts)).map((r) => r.offset)).toEqual(['0', '1', '2'])
    expect(got).toEqual([1, 2, 3])
    expect(bus.close()).toBe(closing)
  })

  it('every subscriber gets its topics’ events in publish order, whatever the mode, pace and policy (counts add up)', async () => {
    const step = fc.record({
      topic: fc.constantFrom('game.a', 'game.b', 'chat.x'),
      pause: fc.boolean(),
    })
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<DispatchMode>('sync', 'microtask'),
        fc.constantFrom<OverrunPolicy>('drop-oldest', 'drop-newest', 'error', 'block'),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(step, { maxLength: 60 }),
        async (dispatch, overrun, capacity, subscriberCapacity, steps) => {
          const bus = createLocalBus({ dispatch, overrun, capacity, subscriberCapacity })
          const patterns = ['game.*', 'game.a', '>']
          const called = patterns.map(() => [] as number[])
          patterns.forEach((p, i) => {
            bus.subscribe<number>(p, { onEvent: (e) => called[i]!.push(e.seq) })
          })
          const slow = bus.subscribe<number>('game.>')
          const read: number[] = []
          const reader = (async () => {
            for await (const e of slow) {
              read.push(e.seq)
              await tick() // a consumer slower than the publisher
            }
          })()
          const published: Array<{ seq: number; topic: string }> = []
          const outcomes: Promise<string>[] = []
          let refused = 0
          for (const s of steps) {
            const seq = published.length
            published.push({ seq, topic: s.topic })
            const p = bus.publish(s.topic, seq)
            outcomes.push(
              p.then(
                () => 'stored',
                (e) => e.name as string,
              ),
            )
            if (s.pause) await tick()
          }
          const results = await Promise.all(outcomes)
          refused = results.filter((r) => r === 'BufferFullError').length
          await bus.close()
          await reader
          const stored = new Set(published.filter((_, i) => results[i] === 'stored').map((e) => e.seq))
          const st = bus.stats()
          expect(st.published).toBe(published.length - refused)
          expect(st.dispatched + st.dropped).toBe(st.published)
          expect(st.refused).toBe(refused)
          expect(results.filter((r) => r === 'EventDroppedError').length).toBe(st.dropped)
          if (overrun === 'block') expect(stored.size).toBe(published.length)
          if (overrun !== 'drop-oldest' && overrun !== 'drop-newest') expect(st.dropped).toBe(0)
          // each subscriber: exactly the dispatched events of its topics, in publish order
          const want = (p: string) =>
            published.filter((e) => stored.has(e.seq) && matchSubject(p, e.topic)).map((e) => e.seq)
          patterns.forEach((p, i) => {
            expect(called[i]).toEqual(want(p))
          })
          expect(read).toEqual(want('game.>'))
          expect(st.buffered).toBe(0)
        },
      ),
      { numRuns: 60 },
    )
  })
})
