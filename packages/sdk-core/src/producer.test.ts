import {
  BackpressureError,
  BadRequestError,
  type PublishEvent,
  QuestlogError,
  type Receipt,
  ValidationError,
} from '@questlog/protocol'
import { describe, expect, it } from 'vitest'
import { ConnectionLostError } from './errors'
import { Producer, type ProducerOptions, QueuedEvent, type SendBatch } from './producer'
import { DEFAULT_RETRY_BUDGET } from './retry'

const options: ProducerOptions = {
  maxEvents: 4,
  maxBytes: 1_000_000,
  lingerMs: 20,
  bufferCapacity: 100,
  overrun: 'error',
  backoff: { initialMs: 1, maxMs: 5 },
  retryBudget: DEFAULT_RETRY_BUDGET,
  deliveryTimeoutMs: 5000,
  maxInFlight: () => 4,
}

function queue(p: Producer, topic: string, n: number, key = 'k'): Promise<Receipt>[] {
  return Array.from({ length: n }, (_, i) => {
    const q = new QueuedEvent(topic, { data: { i }, key, dedupeKey: `${topic}-${i}` })
    p.enqueue(q)
    return q.receipt
  })
}

/** A stand-in for the broker's answer: stores by dedupe key, as the broker does, and fails on cue. */
function store(failures: Array<Error | undefined> = []) {
  const stored = new Map<string, number>()
  const calls: Array<{ topic: string; events: PublishEvent[] }> = []
  const send: SendBatch = async (topic, events) => {
    calls.push({ topic, events })
    const failure = failures.shift()
    // a refusal stores nothing; a lost connection may lose the answer after the batch was stored
    if (failure && !(failure instanceof ConnectionLostError)) throw failure
    const receipts = events.map((e) => {
      const seen = stored.get(e.dedupeKey!)
      if (seen === undefined) stored.set(e.dedupeKey!, stored.size)
      return {
        id: e.dedupeKey!,
        partition: 0,
        offset: String(stored.get(e.dedupeKey!)),
        duplicate: seen !== undefined,
      }
    })
    if (failure) throw failure
    return { receipts }
  }
  return { send, stored, calls }
}

describe('Producer', () => {
  it('lingers to fill a batch, splits by size and topic, and keeps order', async () => {
    const s = store()
    const p = new Producer(options, s.send)
    const receipts = [...queue(p, 'a', 6), ...queue(p, 'b', 2)]
    await Promise.all(receipts)
    expect(s.calls.map((c) => [c.topic, c.events.length])).toEqual([
      ['a', 4],
      ['a', 2],
      ['b', 2],
    ])
    expect([...s.stored.keys()]).toEqual(['a-0', 'a-1', 'a-2', 'a-3', 'a-4', 'a-5', 'b-0', 'b-1'])
    await p.close()
  })

  it('resends a batch whose answer was lost with the same dedupe keys, so nothing is stored twice', async () => {
    const s = store([new ConnectionLostError(), new ConnectionLostError()])
    const p = new Producer(options, s.send)
    const receipts = await Promise.all(queue(p, 'a', 3))
    expect(s.calls).toHaveLength(3)
    expect(s.calls.every((c) => c.events.map((e) => e.dedupeKey).join() === 'a-0,a-1,a-2')).toBe(true)
    expect(s.stored.size).toBe(3)
    expect(receipts.every((r) => r.duplicate)).toBe(true)
    expect(p.stats()).toMatchObject({ retries: 2, batches: 1, stored: 3 })
    await p.close()
  })

  it('waits out a refusal for its retryAfterMs, and fails at once on a non-retryable error', async () => {
    const s = store([new BackpressureError('slow down', 60), undefined, new BadRequestError('no')])
    const p = new Producer({ ...options, lingerMs: 0 }, s.send)
    const started = performance.now()
    await Promise.all(queue(p, 'a', 1))
    expect(performance.now() - started).toBeGreaterThanOrEqual(55)
    expect(p.stats().slowdowns).toBe(1)
    await expect(Promise.all(queue(p, 'b', 1))).rejects.toMatchObject({ code: 'bad_request' })
    await p.close()
  })

  it('gives a batch up at its delivery deadline, even in the middle of a wait the broker asked for', async () => {
    const s = store(Array.from({ length: 10 }, () => new BackpressureError('slow down', 5000)))
    const p = new Producer({ ...options, lingerMs: 0, deliveryTimeoutMs: 150 }, s.send)
    const started = performance.now()
    await expect(Promise.all(queue(p, 'a', 1))).rejects.toMatchObject({ code: 'backpressure' })
    // the broker asked for 5 s; the deadline ends the wait
    expect(performance.now() - started).toBeLessThan(2000)
    expect(s.stored.size).toBe(0)
    await p.close()
  })

  it('flush sends at once, without waiting for the linger', async () => {
    const s = store()
    const p = new Producer({ ...options, lingerMs: 10_000 }, s.send)
    const receipts = queue(p, 'a', 2)
    const started = performance.now()
    await p.flush()
    expect(performance.now() - started).toBeLessThan(1000)
    await Promise.all(receipts)
    expect(s.stored.size).toBe(2)
    await p.close()
  })
  it('fails only the event the broker names as invalid, and sends the rest of its batch', async () => {
    const s = store([new ValidationError([{ path: 'events.1.data.points', message: 'expected a number' }])])
    const p = new Producer(options, s.send)
    const results = await Promise.allSettled(queue(p, 'a', 3))
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason.code).toBe('validation_error')
    expect([...s.stored.keys()]).toEqual(['a-0', 'a-2'])
    await p.close()
  })

  it('keeps several batches in flight, and after a failure stores the rest in their first order', async () => {
    // a broker stand-in with the WebSocket's ordering fence: once a batch fails, later sends of its
    // epoch or older are refused as out of order; answers take a few ms, so batches overlap
    const stored: string[] = []
    let fenced = -1
    let open = 0
    let mostOpen = 0
    let failNext = true
    const send: SendBatch = async (_topic, events, _signal, _json, { epoch }) => {
      open++
      mostOpen = Math.max(mostOpen, open)
      try {
        await new Promise((r) => setTimeout(r, 5))
        if (epoch <= fenced) throw new QuestlogError('out_of_order', 'fenced')
        if (failNext && events.some((e) => e.dedupeKey === 'a-30')) {
          failNext = false
          fenced = epoch
          throw new QuestlogError('unavailable', 'try again')
        }
        for (const e of events) stored.push(e.dedupeKey!)
        return {
          receipts: events.map((e) => ({ id: e.dedupeKey!, partition: 0, offset: '0', duplicate: false })),
        }
      } finally {
        open--
      }
    }
    const p = new Producer({ ...options, lingerMs: 0, maxEvents: 10, bufferCapacity: 1000 }, send)
    const receipts = queue(p, 'a', 100)
    await Promise.all(receipts)
    expect(mostOpen).toBe(4)
    expect(stored).toEqual(Array.from({ length: 100 }, (_, i) => `a-${i}`))
    expect(p.stats().retries).toBe(1)
    await p.close()
  })
})
