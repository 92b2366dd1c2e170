import { createClient, isQuestlogError, type OverrunPolicy } from '@questlog/sdk-node'
import { afterEach, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { freePort } from '../src/storage/embedded'
import { createTopic, freshDatabase, readAll, sleep, startBroker } from './helpers'

const CAPACITY = 10
const SENT = 15

/**
 * The broker is down while 15 events go into a buffer of 10; then it comes back
 * and we read what was stored.
 */
async function scenario(overrun: OverrunPolicy, sent = SENT) {
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
  const outcomes: Array<'stored' | string> = new Array(sent).fill('pending')
  const publishes = Array.from({ length: sent }, (_, n) =>
    bus.publish('ws.overrun', { n }).then(
      () => {
        outcomes[n] = 'stored'
      },
      (e) => {
        outcomes[n] = isQuestlogError(e) ? e.name : String(e)
      },
    ),
  )
  await sleep(100)
  const whileDown = [...outcomes]
  const statsWhileDown = bus.stats()
  const droppedWhileDown = statsWhileDown.dropped
  const broker = await startBroker({ databaseUrl, port })
  await Promise.all(publishes)
  await bus.close()
  const stored = (await readAll(broker.url, 'ws.overrun', 0)).map((e) => e.data.n)
  return { broker, whileDown, droppedWhileDown, statsWhileDown, outcomes, stored }
}

describe('overrun policies with the broker down', () => {
  let broker: Broker | undefined
  afterEach(async () => {
    await broker?.stop()
    broker = undefined
  })

  it('drop-oldest drops the five oldest, reports them, and sends the newest ten', async () => {
    const r = await scenario('drop-oldest')
    broker = r.broker
    expect(r.droppedWhileDown).toBe(5)
    expect(r.whileDown.slice(0, 5)).toEqual(Array(5).fill('EventDroppedError'))
    expect(r.stored).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
  })

  it('drop-newest drops the five newest, reports them, and sends the first ten', async () => {
    const r = await scenario('drop-newest')
    broker = r.broker
    expect(r.droppedWhileDown).toBe(5)
    expect(r.whileDown.slice(10)).toEqual(Array(5).fill('EventDroppedError'))
    expect(r.stored).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('error refuses the five that do not fit with a typed BufferFullError', async () => {
    const r = await scenario('error')
    broker = r.broker
    expect(r.whileDown.slice(10)).toEqual(Array(5).fill('BufferFullError'))
    expect(r.whileDown.slice(0, 10)).toEqual(Array(10).fill('pending'))
    expect(r.stored).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('block holds what does not fit until there is room, then sends everything in order', async () => {
    // ten go out as the first batch (waiting for the broker), ten fill the buffer, five wait for room
    const r = await scenario('block', 25)
    broker = r.broker
    expect(r.statsWhileDown).toMatchObject({ dropped: 0, buffered: 10, blocked: 5 })
    expect(r.whileDown).toEqual(Array(25).fill('pending'))
    expect(r.outcomes).toEqual(Array(25).fill('stored'))
    expect(r.stored).toEqual(Array.from({ length: 25 }, (_, n) => n))
  })
})
