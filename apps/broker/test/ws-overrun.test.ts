import { createClient, createLocalBus, isQuestlogError, type OverrunPolicy } from '@questlog/sdk-node'
import { afterEach, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { freePort } from '../src/storage/embedded'
import { createTopic, freshDatabase, readAll, sleep, startBroker } from './helpers'

const CAPACITY = 10

interface Outcome {
  /** Each publish's fate while the buffer was full: 'pending', or the name of the error it failed with. */
  whileFull: string[]
  /** Each publish's fate in the end ('stored' for a receipt). */
  outcomes: string[]
  /** What subscribers got (the local bus) or what the broker stored (the network client), in order. */
  delivered: number[]
  dropped: number
}

function track(publishes: Promise<unknown>[]) {
  const outcomes: string[] = new Array(publishes.length).fill('pending')
  const settled = publishes.map((p, n) =>
    p.then(
      () => {
        outcomes[n] = 'stored'
      },
      (e) => {
        outcomes[n] = isQuestlogError(e) ? e.name : String(e)
      },
    ),
  )
  return { outcomes, settled: Promise.all(settled) }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
const times = (n: number, what: string) => Array<string>(n).fill(what)

/** What each overrun policy does with `sent` events into a buffer of 10: one table for both clients. */
const TABLE: Array<{ policy: OverrunPolicy; sent: number; expected: Outcome; title: string }> = [
  {
    title: 'drop-oldest drops the five oldest, reports them, and delivers the newest ten',
    policy: 'drop-oldest',
    sent: 15,
    expected: {
      whileFull: [...times(5, 'EventDroppedError'), ...times(10, 'pending')],
      outcomes: [...times(5, 'EventDroppedError'), ...times(10, 'stored')],
      delivered: range(5, 15),
      dropped: 5,
    },
  },
  {
    title: 'drop-newest drops the five newest, reports them, and delivers the first ten',
    policy: 'drop-newest',
    sent: 15,
    expected: {
      whileFull: [...times(10, 'pending'), ...times(5, 'EventDroppedError')],
      outcomes: [...times(10, 'stored'), ...times(5, 'EventDroppedError')],
      delivered: range(0, 10),
      dropped: 5,
    },
  },
  {
    title: 'error refuses the five that do not fit with a typed BufferFullError',
    policy: 'error',
    sent: 15,
    expected: {
      whileFull: [...times(10, 'pending'), ...times(5, 'BufferFullError')],
      outcomes: [...times(10, 'stored'), ...times(5, 'BufferFullError')],
      delivered: range(0, 10),
      dropped: 0,
    },
  },
  {
    title: 'block holds what does not fit until there is room, then delivers everything in order',
    policy: 'block',
    sent: 25,
    expected: {
      whileFull: times(25, 'pending'),
      outcomes: times(25, 'stored'),
      delivered: range(0, 25),
      dropped: 0,
    },
  },
]

describe('overrun policies, the network client with the broker down', () => {
  let broker: Broker | undefined
  afterEach(async () => {
    await broker?.stop()
    broker = undefined
  })

  /** The broker is down while the events go into a buffer of 10; then it comes back and we read what was stored. */
  async function scenario(overrun: OverrunPolicy, sent: number) {
    const databaseUrl = await freshDatabase()
    const port = await freePort()
    const first = await startBroker({ databaseUrl, port })
    await createTopic(first.url, 'ws.overrun')
    await first.stop()

    const bus = createClient({
      brokers: [`http://127.0.0.1:${port}`],
      bufferCapacity: CAPACITY,
      overrun,
      lingerMs: 0,
      backoff: { initialMs: 20, maxMs: 100 },
    })
    const t = track(Array.from({ length: sent }, (_, n) => bus.publish('ws.overrun', { n })))
    await sleep(100)
    const whileFull = [...t.outcomes]
    const statsWhileDown = bus.stats()
    broker = await startBroker({ databaseUrl, port })
    await t.settled
    await bus.close()
    const delivered = (await readAll(broker.url, 'ws.overrun', 0)).map((e) => e.data.n)
    const outcome: Outcome = { whileFull, outcomes: t.outcomes, delivered, dropped: statsWhileDown.dropped }
    return { outcome, statsWhileDown }
  }

  for (const row of TABLE) {
    it(row.title, async () => {
      const r = await scenario(row.policy, row.sent)
      expect(r.outcome).toEqual(row.expected)
      // ten go out as the first batch (waiting for the broker), ten fill the buffer, the rest wait for room
      if (row.policy === 'block') expect(r.statsWhileDown).toMatchObject({ buffered: 10, blocked: 5 })
    })
  }
})

describe('overrun policies, the local bus while the caller’s synchronous code runs', () => {
  async function scenario(overrun: OverrunPolicy, sent: number): Promise<Outcome> {
    const bus = createLocalBus({ capacity: CAPACITY, overrun })
    const delivered: number[] = []
    bus.subscribe<{ n: number }>('ws.overrun', { onEvent: (e) => delivered.push(e.data.n) })
    const t = track(Array.from({ length: sent }, (_, n) => bus.publish('ws.overrun', { n })))
    const dropped = bus.stats().dropped
    // refusals and drops (settled during publish) are seen; no receipt of the dispatch yet
    await Promise.resolve()
    const whileFull = [...t.outcomes]
    await t.settled
    await bus.close()
    return { whileFull, outcomes: t.outcomes, delivered, dropped }
  }

  for (const row of TABLE) {
    it(row.title, async () => {
      expect(await scenario(row.policy, row.sent)).toEqual(row.expected)
    })
  }
})
