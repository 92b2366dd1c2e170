import { createClient } from '@questlog/sdk-node'
import { afterAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { freePort } from '../src/storage/embedded'
import { api, createTopic, freshDatabase, sleep, startBroker } from './helpers'

const TOTAL = 300

describe('consumer group across a broker restart', () => {
  let broker: Broker | undefined
  afterAll(async () => {
    await broker?.stop()
  })

  it('resumes where it acked: nothing missing, only un-acked events come again', async () => {
    const databaseUrl = await freshDatabase()
    const port = await freePort()
    broker = await startBroker({ databaseUrl, port })
    await createTopic(broker.url, 'ws.group', { partitions: 2 })
    const events = Array.from({ length: TOTAL }, (_, n) => ({ key: `k${n % 7}`, data: { n } }))
    expect((await api(broker.url, 'POST', '/v1/topics/ws.group/events', { events })).status).toBe(201)

    const bus = createClient({ brokers: [broker.url], backoff: { initialMs: 50, maxMs: 300 } })
    const acked = new Set<string>()
    const seenAfterRestart: string[] = []
    let restarted = false
    const unackedBeforeRestart = new Set<string>()

    const sub = bus.subscribe<{ n: number }>('ws.group', {
      group: 'analytics',
      from: 'earliest',
      credits: 50,
    })
    for await (const ev of sub) {
      const id = `${ev.partition}:${ev.offset}`
      if (restarted) seenAfterRestart.push(id)
      if (!restarted && acked.size === 120) {
        // take ten more without acking, then restart the broker under the subscriber
        unackedBeforeRestart.add(id)
        if (unackedBeforeRestart.size < 10) continue
        await broker.stop()
        broker = await startBroker({ databaseUrl, port })
        restarted = true
        continue
      }
      await ev.ack()
      acked.add(id)
      if (acked.size === TOTAL) break
    }
    await bus.close()

    expect(acked.size).toBe(TOTAL)
    // nothing acked before the restart was delivered again, and every event held without an ack was
    const ackedBefore = [...acked].slice(0, 120)
    expect(ackedBefore.filter((id) => seenAfterRestart.includes(id))).toEqual([])
    expect([...unackedBeforeRestart].filter((id) => !seenAfterRestart.includes(id))).toEqual([])
    expect(new Set(seenAfterRestart).size).toBe(seenAfterRestart.length)
    expect(seenAfterRestart.length).toBe(TOTAL - 120)

    // a new member of the group starts after the last ack: nothing left
    const again = createClient({ brokers: [broker.url] })
    const rest = again.subscribe('ws.group', { group: 'analytics', from: 'earliest' })
    // the first member's partitions come to it once the broker has seen it leave; then half a second more
    let count = 0
    const drained = (async () => {
      for await (const _ of rest) count++
    })()
    const deadline = Date.now() + 10_000
    while (Object.keys(rest.positions).length < 2 && Date.now() < deadline) await sleep(50)
    await sleep(500)
    rest.close()
    await drained
    expect(Object.keys(rest.positions).sort()).toEqual(['0', '1'])
    expect(count).toBe(0)
    expect(Object.values(rest.positions).reduce((s, o) => s + Number(o), 0)).toBe(TOTAL)
    await again.close()
  })
})
