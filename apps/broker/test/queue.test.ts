import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, sleep, startBroker } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

const sub = (path: string, body?: unknown) => api(broker.url, 'POST', `/v1/subscriptions${path}`, body)
const pull = async (name: string, member: string, max = 10, waitMs = 0) => {
  const res = await sub(`/${name}/pull`, { member, max, waitMs })
  expect(res.status).toBe(200)
  return res.body.deliveries as Array<{ token: string; deliveries: number; event: any }>
}

describe('queue subscriptions', () => {
  it('redelivers un-acked and nak-ed events, dead-letters after maxDeliveries, redrives, and an ack clears it', async () => {
    await createTopic(broker.url, 'jobs.render', { partitions: 2 })
    const created = await sub('', {
      name: 'renderers',
      topic: 'jobs.render',
      mode: 'queue',
      from: 'earliest',
      // long enough for the calls between a delivery and its ack or nak on a loaded machine
      ackWaitMs: 2000,
      maxDeliveries: 3,
      backoffMs: [500],
    })
    expect(created.status).toBe(201)
    await api(broker.url, 'POST', '/v1/topics/jobs.render/events', {
      events: [
        { key: 'a', data: 'good' },
        { key: 'b', data: 'poison' },
      ],
    })

    const first = await pull('renderers', 'm1')
    expect(first.map((d) => d.event.data).sort()).toEqual(['good', 'poison'])
    const good = first.find((d) => d.event.data === 'good')!
    const poison = first.find((d) => d.event.data === 'poison')!
    expect((await sub('/renderers/ack', { tokens: [good.token] })).body.acked).toBe(1)

    // nothing else is ready while the poison event waits for its ack
    expect(await pull('renderers', 'm2')).toEqual([])
    // a nak redelivers after the backoff, not at once
    const nak = await sub('/renderers/nak', { token: poison.token })
    expect(nak.body.redeliverInMs).toBe(500)
    expect(await pull('renderers', 'm2')).toEqual([])
    const second = await pull('renderers', 'm2', 10, 3000)
    expect(second.map((d) => [d.event.data, d.deliveries])).toEqual([['poison', 2]])

    // the ack wait runs out: redelivered with a new attempt
    await sleep(2200)
    const third = await pull('renderers', 'm3', 10, 3000)
    expect(third.map((d) => [d.event.data, d.deliveries])).toEqual([['poison', 3]])
    // the late ack of the expired attempt is refused and does not settle the new holder's delivery
    const late = await sub('/renderers/ack', { tokens: [second[0]!.token] })
    expect(late.status).toBe(409)
    expect(late.body.error.code).toBe('attempt_expired')
    const report = await api(broker.url, 'GET', '/v1/subscriptions/renderers')
    expect(report.body.pending).toBe(1)
    expect(report.body.redelivered).toBe(1)

    // the third delivery also runs out: now it is dead
    await sleep(2200)
    expect(await pull('renderers', 'm1', 10, 300)).toEqual([])
    const dead = await api(broker.url, 'GET', '/v1/subscriptions/renderers/dead-letters')
    expect(dead.body.deadLetters).toHaveLength(1)
    expect(dead.body.deadLetters[0]).toMatchObject({
      topic: 'jobs.render',
      deliveries: 3,
      event: { data: 'poison' },
    })
    expect(dead.body.deadLetters[0].reason).toMatch(/3 deliveries/)
    // its copy is in the dead-letter topic, reason and count in the headers
    const dlq = await api(broker.url, 'GET', '/v1/topics/renderers.dlq/events?partition=0')
    expect(dlq.body.events[0].data).toBe('poison')
    expect(dlq.body.events[0].headers).toMatchObject({
      'ql-dlq-deliveries': '3',
      'ql-dlq-topic': 'jobs.render',
    })

    // redrive: delivered again, and an ack now clears it for good
    const redrive = await sub('/renderers/redrive', { all: true })
    expect(redrive.body.redriven).toBe(1)
    const again = await pull('renderers', 'm1', 10, 2000)
    expect(again.map((d) => d.event.data)).toEqual(['poison'])
    expect((await sub('/renderers/ack', { tokens: [again[0]!.token] })).status).toBe(200)
    const after = await api(broker.url, 'GET', '/v1/subscriptions/renderers')
    expect(after.body).toMatchObject({ pending: 0, deadLetters: 0, lag: 0 })
    expect(
      (await api(broker.url, 'GET', '/v1/subscriptions/renderers/dead-letters')).body.deadLetters,
    ).toEqual([])
  })

  it('term dead-letters at once; every event goes to one member at a time', async () => {
    await createTopic(broker.url, 'jobs.mail')
    await sub('', { name: 'mailers', topic: 'jobs.mail', mode: 'queue', from: 'earliest', maxDeliveries: 5 })
    await api(broker.url, 'POST', '/v1/topics/jobs.mail/events', {
      events: Array.from({ length: 40 }, (_, i) => ({ data: i })),
    })
    const [a, b, c] = await Promise.all([
      pull('mailers', 'x', 15),
      pull('mailers', 'y', 15),
      pull('mailers', 'z', 15),
    ])
    const all = [...a, ...b, ...c].map((d) => d.event.data)
    expect(new Set(all).size).toBe(all.length)
    // members pulling at once lock different rows: whoever got the partition has all of its batch
    const term = await sub('/mailers/term', { token: [...a, ...b, ...c][0]!.token, reason: 'bad address' })
    expect(term.status).toBe(200)
    const dead = await api(broker.url, 'GET', '/v1/subscriptions/mailers/dead-letters')
    expect(dead.body.deadLetters.map((d: any) => d.reason)).toEqual(['bad address'])
  })

  it('refuses bad input and changes nothing', async () => {
    await createTopic(broker.url, 'jobs.bad')
    const bad = await sub('', { name: 'bad-pattern', topic: 'jobs..x', mode: 'queue' })
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.issues[0].path).toBe('topic')
    expect((await api(broker.url, 'GET', '/v1/subscriptions/nope')).body.error.code).toBe(
      'subscription_not_found',
    )
    expect((await sub('/nope/pull', { member: 'm' })).status).toBe(404)
    await sub('', { name: 'bad-acks', topic: 'jobs.bad', mode: 'queue', from: 'earliest' })
    const forged = await sub('/bad-acks/ack', { tokens: ['q.99.1.0.5.abc'] })
    expect(forged.status).toBe(404)
    expect(forged.body.error.code).toBe('delivery_not_found')
    const garbage = await sub('/bad-acks/ack', { tokens: ['hello'] })
    expect(garbage.status).toBe(400)
    expect(garbage.body.error.details.issues[0].path).toBe('tokens.0')
    // a batch with one bad token acks nothing
    await api(broker.url, 'POST', '/v1/topics/jobs.bad/events', { data: 1 })
    const [d] = await pull('bad-acks', 'm')
    const mixed = await sub('/bad-acks/ack', { tokens: [d!.token, 'q.99.1.0.5.abc'] })
    expect(mixed.status).toBe(404)
    expect((await api(broker.url, 'GET', '/v1/subscriptions/bad-acks')).body.pending).toBe(1)
    const dup = await sub('', { name: 'bad-acks', topic: 'jobs.bad' })
    expect(dup.status).toBe(409)
    expect(dup.body.error.code).toBe('subscription_exists')
  })
  it('answers a late ack of an expired attempt with attempt_expired, whether its redelivery is held, acked or dead', async () => {
    await createTopic(broker.url, 'jobs.late')
    expect(
      (
        await sub('', {
          name: 'late-acks',
          topic: 'jobs.late',
          mode: 'queue',
          from: 'earliest',
          ackWaitMs: 1000,
          maxDeliveries: 2,
          backoffMs: [0],
        })
      ).status,
    ).toBe(201)
    await api(broker.url, 'POST', '/v1/topics/jobs.late/events', {
      events: [{ data: 'acked-later' }, { data: 'runs-out' }],
    })
    const first = await pull('late-acks', 'slow')
    expect(first.map((d) => d.event.data).sort()).toEqual(['acked-later', 'runs-out'])
    const byData = (list: typeof first, data: string) => list.find((d) => d.event.data === data)!
    // both ack waits run out; the redeliveries go to another member
    await sleep(1300)
    const second = await pull('late-acks', 'quick', 10, 3000)
    expect(second.map((d) => [d.event.data, d.deliveries]).sort()).toEqual([
      ['acked-later', 2],
      ['runs-out', 2],
    ])
    const lateAck = async (token: string) => {
      const res = await sub('/late-acks/ack', { tokens: [token] })
      return [res.status, res.body.error?.code]
    }
    // the redelivery still held
    expect(await lateAck(byData(first, 'acked-later').token)).toEqual([409, 'attempt_expired'])
    // the redelivery acked
    expect((await sub('/late-acks/ack', { tokens: [byData(second, 'acked-later').token] })).status).toBe(200)
    expect(await lateAck(byData(first, 'acked-later').token)).toEqual([409, 'attempt_expired'])
    // the second attempt of the other runs out too: it is dead, and neither attempt may ack it now
    await sleep(1300)
    expect(await pull('late-acks', 'quick', 10, 300)).toEqual([])
    const dead = await api(broker.url, 'GET', '/v1/subscriptions/late-acks/dead-letters')
    expect(dead.body.deadLetters.map((d: any) => d.event.data)).toEqual(['runs-out'])
    expect(await lateAck(byData(first, 'runs-out').token)).toEqual([409, 'attempt_expired'])
    expect(await lateAck(byData(second, 'runs-out').token)).toEqual([409, 'attempt_expired'])
    // a second ack of the attempt that settled it is still "already acked"
    expect(await lateAck(byData(second, 'acked-later').token)).toEqual([404, 'delivery_not_found'])
  })
})
