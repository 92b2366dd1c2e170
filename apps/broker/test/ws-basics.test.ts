import { PROTOCOL_VERSION } from '@questlog/protocol'
import { createClient, defineTopic, isQuestlogError } from '@questlog/sdk-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { Broker } from '../src/broker'
import { api, createTopic, rawSocket, readAll, sleep, startBroker } from './helpers'

describe('WebSocket endpoint', () => {
  let broker: Broker
  beforeAll(async () => {
    broker = await startBroker()
    await createTopic(broker.url, 'ws.basics', { partitions: 2 })
  })
  afterAll(async () => {
    await broker?.stop()
  })

  it('refuses an unsupported protocol version with a clear error and close code', async () => {
    const s = await rawSocket(broker.url)
    s.send({ op: 'hello', v: 99 })
    const err = await s.next(1)
    expect(err).toMatchObject({
      op: 'error',
      code: 'bad_request',
      details: { supported: [PROTOCOL_VERSION] },
    })
    expect(err.message).toMatch(/protocol version 99 is not supported/)
    expect(await s.closed).toBe(4426)
  })

  it('answers a publish frame with receipts and a bad event with the field path', async () => {
    const s = await rawSocket(broker.url)
    s.send({ op: 'hello', v: PROTOCOL_VERSION })
    expect(await s.next(1)).toMatchObject({ op: 'welcome', v: 1 })
    s.send({ op: 'publish', id: 7, topic: 'ws.basics', events: [{ data: { a: 1 }, key: 'k' }, { data: 2 }] })
    const r = await s.next(2)
    expect(r.op).toBe('receipts')
    expect(r.id).toBe(7)
    expect(r.receipts).toHaveLength(2)
    s.send({ op: 'publish', id: 8, topic: 'ws.basics', events: [{ data: 1 }, { key: 'k' }] })
    const e = await s.next(3)
    expect(e).toMatchObject({ op: 'error', id: 8, code: 'validation_error' })
    expect(e.details.issues[0].path).toBe('events.1.data')
    s.ws.close()
  })

  it('takes a publish in columns as one binary frame, stores each payload as sent, and names a bad one by its path', async () => {
    await createTopic(broker.url, 'ws.columns', { partitions: 1 })
    const s = await rawSocket(broker.url)
    s.send({ op: 'hello', v: PROTOCOL_VERSION })
    expect((await s.next(1)).features).toContain('publish-columns')
    const head = { op: 'publish', topic: 'ws.columns', receipts: 'runs', producer: 'srv-9' }
    const ids = ['c-1', 'c-2', 'c-3']
    // white space, escapes and non-ASCII text, as any JSON writer may produce them
    const payloads = '[ {"n": 1, "s": "a\\"b\\u00e9"} , [1, 2.5e3, -1] ,"élan 🎮"]'
    s.sendColumns({ ...head, id: 1, seqs: [1, 2, 3], ids, keys: ['k', null, 'k'] }, payloads)
    expect(await s.next(2)).toEqual({ op: 'receipts', id: 1, runs: [[0, '0', 3]] })
    // the same frame again: the producer's seqs make it a repeat, nothing new is stored
    s.sendColumns({ ...head, id: 2, seqs: [1, 2, 3], ids, keys: ['k', null, 'k'] }, payloads)
    const again = await s.next(3)
    expect(again.runs.map((r: any) => [r.offset, r.duplicate])).toEqual([
      ['0', true],
      ['1', true],
      ['2', true],
    ])
    // a payload that is not JSON, a column of the wrong length, a binary frame without a header line
    s.sendColumns({ ...head, id: 3, seqs: [4, 5], ids: ['x', 'y'] }, '[{"ok":true},{"bad":tru}]')
    s.sendColumns({ ...head, id: 4, seqs: [4, 5], ids: ['x'] }, '[1,2]')
    s.ws.send(Buffer.from('[1,2]'))
    // (answered as each is checked: the headless one at once, the publishes in their turn)
    await s.next(6)
    const bad = s.frames.find((f) => f.id === 3)
    const short = s.frames.find((f) => f.id === 4)
    const headless = s.frames.slice(3).find((f) => f.id === undefined)
    expect(bad).toMatchObject({ op: 'error', id: 3, code: 'validation_error' })
    expect(bad.details.issues[0].path).toBe('events.1.data')
    expect(short).toMatchObject({ op: 'error', id: 4, code: 'validation_error' })
    expect(short.details.issues[0].path).toBe('ids')
    expect(headless).toMatchObject({ op: 'error', code: 'bad_request' })
    expect(headless.message).toMatch(/a JSON header, a newline/)
    const stored = await readAll(broker.url, 'ws.columns', 0)
    expect(stored.map((e: any) => [e.id, e.key ?? null, e.data])).toEqual([
      ['c-1', 'k', { n: 1, s: 'a"bé' }],
      ['c-2', null, [1, 2500, -1]],
      ['c-3', 'k', 'élan 🎮'],
    ])
    // and the connection goes on serving
    s.send({ op: 'publish', id: 5, topic: 'ws.columns', events: [{ data: 'after' }] })
    expect(await s.next(7)).toMatchObject({ op: 'receipts', id: 5 })
    s.ws.close()
  })

  it('keeps publishes of one connection in the order sent, and refuses those sent after a failed one of their epoch', async () => {
    await createTopic(broker.url, 'ws.order', { partitions: 1 })
    const s = await rawSocket(broker.url)
    s.send({ op: 'hello', v: PROTOCOL_VERSION })
    await s.next(1)
    const batch = (from: number) => Array.from({ length: 50 }, (_, i) => ({ data: { n: from + i } }))
    // eight frames back to back, no waiting: stored in the order sent
    for (let f = 0; f < 8; f++)
      s.send({ op: 'publish', id: f, topic: 'ws.order', epoch: 0, events: batch(f * 50) })
    // a failing frame (its second event has no payload), then two sent before its answer could arrive
    s.send({ op: 'publish', id: 8, topic: 'ws.order', epoch: 0, events: [{ data: { n: -1 } }, { key: 'k' }] })
    s.send({ op: 'publish', id: 9, topic: 'ws.order', epoch: 0, events: batch(400) })
    s.send({ op: 'publish', id: 10, topic: 'ws.order', epoch: 1, events: batch(450) })
    await s.next(12)
    const byId = new Map(s.frames.slice(1).map((f) => [f.id, f]))
    for (let f = 0; f < 8; f++) expect(byId.get(f)?.op).toBe('receipts')
    expect(byId.get(8)).toMatchObject({ op: 'error', code: 'validation_error' })
    expect(byId.get(9)).toMatchObject({ op: 'error', code: 'out_of_order' })
    expect(byId.get(10)?.op).toBe('receipts')
    const stored = await readAll(broker.url, 'ws.order', 0)
    expect(stored.map((e: any) => e.data.n)).toEqual([
      ...Array.from({ length: 400 }, (_, i) => i),
      ...Array.from({ length: 50 }, (_, i) => 450 + i),
    ])
    s.ws.close()
  })

  it('gives each SDK publish the receipt of the event as stored, duplicates included', async () => {
    await createTopic(broker.url, 'ws.receipts', { partitions: 2 })
    const bus = createClient({ brokers: [broker.url] })
    try {
      const receipts = await Promise.all(
        Array.from({ length: 300 }, (_, n) =>
          bus.publish('ws.receipts', { n }, n % 50 === 7 ? { dedupeKey: 'same' } : { key: `k${n % 3}` }),
        ),
      )
      const stored = [
        ...(await readAll(broker.url, 'ws.receipts', 0)),
        ...(await readAll(broker.url, 'ws.receipts', 1)),
      ]
      const byId = new Map(stored.map((e: any) => [e.id, e]))
      expect(stored).toHaveLength(300 - 5)
      receipts.forEach((r, n) => {
        const e: any = byId.get(r.id)
        expect({ partition: e.partition, offset: e.offset }).toEqual({
          partition: r.partition,
          offset: r.offset,
        })
        // the first event with the dedupe key is stored; the later ones get its receipt
        expect(e.data.n).toBe(n % 50 === 7 ? 7 : n)
        expect(r.duplicate).toBe(n % 50 === 7 && n > 7)
      })
    } finally {
      await bus.close()
    }
  })

  it('publishes through the SDK and delivers to a live subscriber', async () => {
    const bus = createClient({ brokers: [broker.url] })
    const sub = bus.subscribe<{ n: number }>('ws.basics', { from: 'latest', key: 'p1' })
    const got: number[] = []
    const reading = (async () => {
      for await (const ev of sub) {
        got.push(ev.data.n)
        if (got.length === 20) break
      }
    })()
    // wait until the broker has placed the subscription
    while (Object.keys(sub.positions).length === 0) await new Promise((r) => setTimeout(r, 10))
    const receipts = await Promise.all(
      Array.from({ length: 20 }, (_, n) => bus.publish('ws.basics', { n }, { key: 'p1' })),
    )
    expect(receipts.every((r) => r.duplicate === false)).toBe(true)
    await reading
    expect(got).toEqual(Array.from({ length: 20 }, (_, n) => n))
    await bus.close()
    expect(await bus.closed()).toBeUndefined()
  })

  it('rejects a payload that fails the topic schema before anything is sent', async () => {
    const bus = createClient({ brokers: [broker.url] })
    const scores = defineTopic('ws.basics', z.object({ player: z.string(), points: z.number().int() }))
    const before =
      (await readAll(broker.url, 'ws.basics', 0)).length + (await readAll(broker.url, 'ws.basics', 1)).length
    let caught: unknown
    try {
      await bus.publish(scores, { player: 'p1', points: 1.5 })
    } catch (e) {
      caught = e
    }
    expect(isQuestlogError(caught) && caught.code).toBe('validation_error')
    expect((caught as Error).name).toBe('ValidationError')
    expect((caught as Error).message).toMatch(/^data\.points: /)
    let batchError: unknown
    try {
      await bus.publishBatch(scores, [
        { data: { player: 'a', points: 1 } },
        { data: { player: 2 as never, points: 1 } },
      ])
    } catch (e) {
      batchError = e
    }
    expect((batchError as Error).message).toMatch(/^events\.1\.data\.player: /)
    await bus.flush()
    const after =
      (await readAll(broker.url, 'ws.basics', 0)).length + (await readAll(broker.url, 'ws.basics', 1)).length
    expect(after).toBe(before)
    expect(bus.stats().batches).toBe(0)
    await bus.close()
  })
  it('sends at most `credits` un-acked events, more as acks arrive, and redelivers a nak', async () => {
    await createTopic(broker.url, 'ws.credits')
    const events = Array.from({ length: 20 }, (_, n) => ({ data: { n } }))
    expect((await api(broker.url, 'POST', '/v1/topics/ws.credits/events', { events })).status).toBe(201)
    const s = await rawSocket(broker.url)
    s.send({ op: 'hello', v: PROTOCOL_VERSION })
    await s.next(1)
    s.send({ op: 'subscribe', sid: 'a', topic: 'ws.credits', from: 'earliest', credits: 5 })
    const delivered = () => s.frames.filter((f) => f.op === 'events').flatMap((f) => f.events)
    const settle = async (n: number) => {
      for (let i = 0; i < 200 && delivered().length < n; i++) await sleep(10)
      // and nothing more arrives
      await sleep(300)
      return delivered()
    }
    expect((await settle(5)).map((d) => d.event.data.n)).toEqual([0, 1, 2, 3, 4])
    s.send({
      op: 'ack',
      sid: 'a',
      acks: [
        [0, '0'],
        [0, '1'],
        [0, '2'],
      ],
    })
    expect((await settle(8)).map((d) => d.event.data.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    // a nak keeps its credit: the same event comes again, marked, and nothing new
    s.send({ op: 'nak', sid: 'a', partition: 0, offset: '3' })
    const after = await settle(9)
    expect(after).toHaveLength(9)
    expect(after[8]).toMatchObject({ event: { offset: '3' }, redelivery: 1 })
    s.ws.close()
  })

  it('ends a subscription when its AbortSignal fires, and refuses a publish aborted before it was sent', async () => {
    const bus = createClient({ brokers: [broker.url] })
    const stop = new AbortController()
    const sub = bus.subscribe('ws.basics', { from: 'latest', signal: stop.signal })
    const reading = (async () => {
      let n = 0
      for await (const _ of sub) n++
      return n
    })()
    setTimeout(() => stop.abort(), 100)
    expect(await reading).toBe(0)
    const aborted = AbortSignal.abort()
    await expect(bus.publish('ws.basics', { x: 1 }, { signal: aborted })).rejects.toMatchObject({
      name: 'AbortedError',
    })
    await bus.close()
  })
  it('resumes from a stored cursor or offset', async () => {
    await createTopic(broker.url, 'ws.resume', { partitions: 3 })
    const events = Array.from({ length: 30 }, (_, n) => ({ key: `k${n % 5}`, data: { n } }))
    expect((await api(broker.url, 'POST', '/v1/topics/ws.resume/events', { events })).status).toBe(201)
    const bus = createClient({ brokers: [broker.url] })
    const seen = new Set<number>()
    let stored: string | undefined
    for await (const ev of bus.subscribe<{ n: number }>('ws.resume', { from: 'earliest' })) {
      seen.add(ev.data.n)
      stored = ev.cursor
      if (seen.size === 12) break
    }
    // a later run starts after the stored cursor: the other 18, none twice
    for await (const ev of bus.subscribe<{ n: number }>('ws.resume', { cursor: stored! })) {
      expect(seen.has(ev.data.n)).toBe(false)
      seen.add(ev.data.n)
      if (seen.size === 30) break
    }
    expect(seen.size).toBe(30)
    const fromOffset: string[] = []
    for await (const ev of bus.subscribe('ws.resume', { partition: 1, from: { offset: '2' } })) {
      fromOffset.push(ev.offset)
      if (fromOffset.length === 3) break
    }
    expect(fromOffset).toEqual(['2', '3', '4'])
    await bus.close()
  })
  it('ends a subscription with TopicNotFoundError when its topic is deleted', async () => {
    await createTopic(broker.url, 'ws.doomed')
    const bus = createClient({ brokers: [broker.url] })
    const sub = bus.subscribe('ws.doomed', { from: 'earliest' })
    const ended = (async () => {
      try {
        for await (const _ of sub) {
        }
        return 'done'
      } catch (e) {
        return (e as Error).name
      }
    })()
    while (Object.keys(sub.positions).length === 0) await sleep(10)
    expect((await api(broker.url, 'DELETE', '/v1/topics/ws.doomed')).status).toBe(204)
    expect(await ended).toBe('TopicNotFoundError')
    await bus.close()
  })
  it('fails only the event the broker refuses, not the rest of the batch it shared', async () => {
    await createTopic(broker.url, 'ws.mixed')
    const bus = createClient({ brokers: [broker.url], lingerMs: 50 })
    const results = await Promise.allSettled([
      bus.publish('ws.mixed', { n: 0 }),
      bus.publish('ws.mixed', { n: 1 }, { partition: 7 }),
      bus.publish('ws.mixed', { n: 2 }),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason.message).toMatch(/^events\.1\.partition: /)
    expect((await readAll(broker.url, 'ws.mixed', 0)).map((e) => e.data.n)).toEqual([0, 2])
    await bus.close()
  })
})
