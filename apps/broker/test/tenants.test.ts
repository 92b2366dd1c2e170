import { randomUUID } from 'node:crypto'
import { createClient, isQuestlogError } from '@questlog/sdk-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, sleep, startBroker } from './helpers'

const ADMIN = `ql_tenantadmin1_${'T'.repeat(43)}`
let broker: Broker
/** Studio A's key (everything on `game.a.>`), studio B's (on `game.b.>`), and a browser token of A's. */
let a: string
let b: string
let browser: string

const call = (key: string, method: string, path: string, body?: unknown) =>
  api(broker.url, method, path, body, { authorization: `Bearer ${key}` })

async function makeKey(name: string, rules: unknown[]): Promise<string> {
  const res = await call(ADMIN, 'POST', '/v1/keys', { name, rules })
  expect(res.status).toBe(201)
  return res.body.key as string
}

/** Both studios may also read the shared lobby feed. */
const tenant = (name: string, space: string) =>
  makeKey(name, [
    { actions: ['publish', 'subscribe', 'admin'], topics: [`${space}.>`] },
    { actions: ['subscribe'], topics: ['lobby.news'] },
  ])

/** The committed offsets stored under a group name, on every topic. */
async function offsetsOf(group: string): Promise<string[]> {
  const rows = await broker.services.sql`
    SELECT t.name AS topic, o.partition, o.next_offset FROM ql_consumer_offsets o
    JOIN ql_topics t ON t.id = o.topic_id WHERE o.group_name = ${group} ORDER BY t.name, o.partition`
  return rows.map((r) => `${r.topic}/${r.partition}@${r.next_offset}`)
}

/** Reads `n` events of `topic` over the WebSocket as consumer group `group`, acking each: their offsets, or the refusal. */
async function consume(token: string, topic: string, group: string, n: number) {
  const bus = createClient({ brokers: [broker.url], token })
  const offsets: string[] = []
  try {
    for await (const ev of bus.subscribe(topic, { group, from: 'earliest' })) {
      await ev.ack()
      offsets.push(ev.offset)
      if (offsets.length === n) break
    }
    return offsets
  } catch (e) {
    return isQuestlogError(e) ? { code: e.code, message: e.message } : { code: String(e), message: '' }
  } finally {
    await bus.close()
  }
}

/** An error body with the names the caller gave replaced, to compare two refusals. */
const shape = (body: unknown, given: string) => JSON.stringify(body).replaceAll(given, '<given>')

async function waitJob(key: string, id: string) {
  for (let i = 0; i < 400; i++) {
    const job = (await call(key, 'GET', `/v1/replays/${id}`)).body
    if (job.status === 'done') return job
    await sleep(50)
  }
  throw new Error(`replay ${id} did not finish`)
}

beforeAll(async () => {
  broker = await startBroker({ auth: 'on', adminKey: ADMIN })
  for (const name of [
    'game.a.kills',
    'game.a.deaths',
    'game.a.mailbox',
    'game.a.scores',
    'game.b.kills',
    'lobby.news',
  ])
    expect((await call(ADMIN, 'POST', '/v1/topics', { name })).status).toBe(201)
  a = await tenant('studio-a', 'game.a')
  b = await tenant('studio-b', 'game.b')
  const minted = await call(a, 'POST', '/v1/tokens', {
    ttlSeconds: 600,
    rules: [{ actions: ['subscribe'], topics: ['game.a.>', 'lobby.news'] }],
  })
  expect(minted.status).toBe(201)
  browser = minted.body.token
  const inbox = { name: 'game.b.inbox', topic: 'game.b.>', mode: 'queue', from: 'earliest' }
  expect((await call(b, 'POST', '/v1/subscriptions', inbox)).status).toBe(201)
  expect((await call(b, 'POST', '/v1/topics/game.b.kills/events', { data: 'b-secret' })).status).toBe(201)
  const news = { events: [1, 2, 3].map((n) => ({ data: `news-${n}` })) }
  expect((await call(ADMIN, 'POST', '/v1/topics/lobby.news/events', news)).status).toBe(201)
})
afterAll(() => broker.stop())

describe('subscription names', () => {
  it("refuse a name in another tenant's space, or one whose dead-letter topic the key may not read", async () => {
    const narrow = await makeKey('narrow-a', [
      { actions: ['publish', 'subscribe', 'admin'], topics: ['game.a.*'] },
    ])
    const create = (key: string, name: string, topic: string) =>
      call(key, 'POST', '/v1/subscriptions', { name, topic, mode: 'queue', from: 'earliest' })
    // its dead letters would be written into B's topic game.b.mail.dlq, with payloads of A's choosing
    for (const [key, topic] of [
      [narrow, 'game.a.*'],
      [a, 'game.a.>'],
    ] as const) {
      const res = await create(key, 'game.b.mail', topic)
      expect(res.status).toBe(403)
      expect(res.body.error.code).toBe('forbidden')
    }
    // in its own space, but `game.a.*` does not reach the topic game.a.mail.dlq the broker would feed
    const dlq = await create(narrow, 'game.a.mail', 'game.a.*')
    expect(dlq.status).toBe(403)
    expect(dlq.body.error.message).toContain("'game.a.mail.dlq'")
    const names = (await call(ADMIN, 'GET', '/v1/subscriptions')).body.subscriptions.map((s: any) => s.name)
    expect(names).not.toContain('game.b.mail')
    expect(names).not.toContain('game.a.mail')
    expect((await call(ADMIN, 'GET', '/v1/topics/game.b.mail.dlq')).status).toBe(404)

    // a name of its own: its dead letters land where the key can read them, and nowhere else
    expect((await create(a, 'game.a.mail', 'game.a.mailbox')).status).toBe(201)
    await call(a, 'POST', '/v1/topics/game.a.mailbox/events', { data: 'poison' })
    const [d] = (await call(a, 'POST', '/v1/subscriptions/game.a.mail/pull', { member: 'm' })).body.deliveries
    expect((await call(a, 'POST', '/v1/subscriptions/game.a.mail/term', { token: d.token })).status).toBe(200)
    const copies = await call(a, 'GET', '/v1/topics/game.a.mail.dlq/events?partition=0&from=0')
    expect(copies.body.events.map((e: any) => e.data)).toEqual(['poison'])
    expect((await call(b, 'GET', '/v1/topics/game.a.mail.dlq/events')).status).toBe(403)
  })
})

describe('replays', () => {
  it('write only into topics and subscriptions the key may name or already uses', async () => {
    expect((await call(a, 'POST', '/v1/topics/game.a.kills/events', { data: 'a-1' })).status).toBe(201)
    const replay = (key: string, target: unknown) =>
      call(key, 'POST', '/v1/replays', { topic: 'game.a.kills', fromOffset: 0, target })
    const create = (key: string, sub: Record<string, unknown>) =>
      call(key, 'POST', '/v1/subscriptions', { ...sub, topic: 'game.a.kills' })
    for (const target of [
      { topic: 'game.b.kills' },
      { subscription: 'game.b.inbox' },
      { subscription: 'game.b.fresh' },
    ]) {
      const res = await replay(a, target)
      expect(res.status, JSON.stringify(target)).toBe(403)
      expect(JSON.stringify(res.body)).not.toContain('game.b.>')
    }
    expect((await call(ADMIN, 'GET', '/v1/subscriptions/game.b.fresh')).status).toBe(404)
    expect((await call(b, 'GET', '/v1/subscriptions/game.b.inbox')).body.pending).toBe(0)

    // a new subscription of its own, and one an operator made over its topics, are fine targets
    const own = await replay(a, { subscription: 'game.a.replayed' })
    expect(own.status).toBe(201)
    await waitJob(a, own.body.id)
    const pulled = await call(a, 'POST', '/v1/subscriptions/game.a.replayed/pull', { member: 'm' })
    expect(pulled.body.deliveries.map((x: any) => x.event.data)).toEqual(['a-1'])
    const given = { name: 'ops-a-replays', topic: 'game.a.kills', mode: 'queue' }
    expect((await call(ADMIN, 'POST', '/v1/subscriptions', given)).status).toBe(201)
    expect((await replay(a, { subscription: 'ops-a-replays' })).status).toBe(201)

    // named in A's space but over B's topics: it exists, as creating it would say, and nothing else shows
    const hidden = { name: 'game.a.hidden', topic: 'game.b.kills', mode: 'queue' }
    expect((await call(ADMIN, 'POST', '/v1/subscriptions', hidden)).status).toBe(201)
    const taken = await replay(a, { subscription: 'game.a.hidden' })
    expect(taken.status).toBe(409)
    expect(JSON.stringify(taken.body)).not.toContain('game.b.kills')
    expect((await create(a, hidden)).status).toBe(409)

    // a subscription over other topics: its readers may not be allowed the replayed topic
    const deaths = { name: 'game.a.deaths-feed', topic: 'game.a.deaths', mode: 'queue' }
    expect((await call(a, 'POST', '/v1/subscriptions', deaths)).status).toBe(201)
    const elsewhere = await replay(a, { subscription: 'game.a.deaths-feed' })
    expect(elsewhere.status).toBe(400)
    expect(elsewhere.body.error.details.issues[0].path).toBe('target.subscription')

    // an operator's replay from A's topic into B's is not A's to see
    const ops = await replay(ADMIN, { topic: 'game.b.kills' })
    expect(ops.status).toBe(201)
    const listed = (await call(a, 'GET', '/v1/replays')).body.replays
    expect(listed.map((j: any) => j.id)).toContain(own.body.id)
    expect(listed.map((j: any) => j.id)).not.toContain(ops.body.id)
    expect((await call(a, 'GET', `/v1/replays/${ops.body.id}`)).status).toBe(404)
  })

  it('go through the same checks in the admin API, for an administrator with deny rules', async () => {
    const ops = await makeKey('ops', [
      { actions: ['publish', 'subscribe', 'admin'], topics: ['>'] },
      { effect: 'deny', actions: ['publish', 'subscribe'], topics: ['game.b.>'] },
    ])
    const trpc = async (path: string, input: unknown) => {
      const res = await fetch(`${broker.url}/trpc/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ops}` },
        body: JSON.stringify(input),
      })
      return res.status
    }
    const from = { topic: 'game.a.kills', fromOffset: 0 }
    expect(await trpc('replays.create', { ...from, target: { topic: 'game.b.kills' } })).toBe(403)
    expect(await trpc('replays.create', { ...from, target: { subscription: 'game.b.ops' } })).toBe(403)
    expect(await trpc('subscriptions.create', { name: 'game.b.ops', topic: 'game.a.kills' })).toBe(403)
    expect((await call(ADMIN, 'GET', '/v1/subscriptions/game.b.ops')).status).toBe(404)
    expect(await trpc('subscriptions.create', { name: 'ops-feed', topic: 'game.a.kills' })).toBe(200)
  })
})

describe('consumer groups over the WebSocket', () => {
  it("keep a group's name in its key's space: another tenant's group is neither read nor moved", async () => {
    expect(await consume(b, 'lobby.news', 'game.b.news', 2)).toEqual(['0', '1'])
    expect(await offsetsOf('game.b.news')).toEqual(['lobby.news/0@2'])
    // a key or browser token of A naming B's group would resume at B's position and move it on with its acks
    for (const who of [a, browser]) {
      const refused = await consume(who, 'lobby.news', 'game.b.news', 1)
      expect(refused).toMatchObject({ code: 'forbidden' })
      // the same answer for a group B never used
      const never = await consume(who, 'lobby.news', 'game.b.never', 1)
      expect(shape(never, 'game.b.never')).toBe(shape(refused, 'game.b.news'))
    }
    expect(await offsetsOf('game.b.news')).toEqual(['lobby.news/0@2'])
    // groups of A's own space read the shared topic from its start
    expect(await consume(a, 'lobby.news', 'game.a.news', 3)).toEqual(['0', '1', '2'])
    expect(await consume(browser, 'lobby.news', 'game.a.browser', 1)).toEqual(['0'])
    expect(await consume(b, 'lobby.news', 'game.b.news', 1)).toEqual(['2'])
  })
})

describe('resetting and deleting a subscription', () => {
  it("touch only the offsets of the subscription's own topics, never a same-named group elsewhere", async () => {
    expect(await consume(b, 'lobby.news', 'game.b.digest', 2)).toEqual(['0', '1'])
    // an operator names a stream subscription over A's topics the way B named its group
    const sub = { name: 'game.b.digest', topic: 'game.a.deaths', mode: 'stream', from: 'earliest' }
    expect((await call(ADMIN, 'POST', '/v1/subscriptions', sub)).status).toBe(201)
    await call(a, 'POST', '/v1/topics/game.a.deaths/events', { data: 'd' })
    const pulled = await call(a, 'POST', '/v1/subscriptions/game.b.digest/pull', { member: 'm', max: 100 })
    const tokens = pulled.body.deliveries.map((x: any) => x.token)
    expect((await call(a, 'POST', '/v1/subscriptions/game.b.digest/ack', { tokens })).status).toBe(200)
    expect(await offsetsOf('game.b.digest')).toEqual([`game.a.deaths/0@${tokens.length}`, 'lobby.news/0@2'])

    const reset = await call(a, 'POST', '/v1/subscriptions/game.b.digest/reset', { to: 'earliest' })
    expect(reset.status).toBe(200)
    expect(await offsetsOf('game.b.digest')).toEqual(['game.a.deaths/0@0', 'lobby.news/0@2'])
    expect((await call(a, 'DELETE', '/v1/subscriptions/game.b.digest')).status).toBe(204)
    expect(await offsetsOf('game.b.digest')).toEqual(['lobby.news/0@2'])
    // B's group goes on where it was
    expect(await consume(b, 'lobby.news', 'game.b.digest', 1)).toEqual(['2'])
  })
})

describe('event status', () => {
  it('lists only the subscriptions the caller may see', async () => {
    const ops = { name: 'ops-scores', topic: 'game.*.scores', mode: 'queue' }
    expect((await call(ADMIN, 'POST', '/v1/subscriptions', ops)).status).toBe(201)
    const own = { name: 'game.a.status', topic: 'game.a.>', mode: 'queue' }
    expect((await call(a, 'POST', '/v1/subscriptions', own)).status).toBe(201)
    const id = (await call(a, 'POST', '/v1/topics/game.a.scores/events', { data: 'x' })).body.id
    const names = async (key: string) =>
      (await call(key, 'GET', `/v1/events/${id}`)).body.subscriptions.map((s: any) => s.name).sort()
    expect(await names(ADMIN)).toEqual(['game.a.status', 'ops-scores'])
    expect(await names(a)).toEqual(['game.a.status'])
    expect(await names(browser)).toEqual(['game.a.status'])
  })
})

describe('refusals', () => {
  it("read the same whether the other tenant's name exists or not, and echo only what the caller gave", async () => {
    const event = (await call(b, 'POST', '/v1/topics/game.b.kills/events', { data: 'b-2' })).body.id
    const job = await call(b, 'POST', '/v1/replays', {
      topic: 'game.b.kills',
      fromOffset: 0,
      target: { subscription: 'game.b.replayed' },
    })
    expect(job.status).toBe(201)
    const scheduled = await call(b, 'POST', '/v1/topics/game.b.kills/scheduled', {
      event: { data: 'later' },
      delayMs: 3_600_000,
    })
    expect(scheduled.status).toBe(201)
    const replayInto = (subscription: string) => ({
      topic: 'game.a.kills',
      fromOffset: 0,
      target: { subscription },
    })
    const subscription = (name: string) => ({ name, topic: 'game.a.kills', mode: 'queue' })
    // [method, path or body for B's existing name, the same for a name nobody has, the names given]
    const pairs: Array<[string, (n: string) => [string, unknown?], string, string]> = [
      ['POST', (n) => ['/v1/subscriptions', subscription(n)], 'game.b.inbox', 'game.b.nosuch'],
      ['POST', (n) => ['/v1/replays', replayInto(n)], 'game.b.inbox', 'game.b.nosuch'],
      ['GET', (n) => [`/v1/subscriptions/${n}`], 'game.b.inbox', 'game.b.nosuch'],
      ['GET', (n) => [`/v1/events/${n}`], event, `${event.slice(0, -12)}000000000000`],
      ['GET', (n) => [`/v1/replays/${n}`], job.body.id, randomUUID()],
      ['POST', (n) => [`/v1/replays/${n}/cancel`], job.body.id, randomUUID()],
      ['DELETE', (n) => [`/v1/scheduled/${n}`], scheduled.body.id, `${scheduled.body.id.slice(0, -4)}0000`],
    ]
    for (const [method, request, existing, missing] of pairs) {
      const there = await call(a, method, ...request(existing))
      const absent = await call(a, method, ...request(missing))
      const what = `${method} ${request(existing)[0]}`
      expect(there.status, what).toBeGreaterThanOrEqual(403)
      expect(there.status, what).toBe(absent.status)
      expect(shape(there.body, existing), what).toBe(shape(absent.body, missing))
      expect(JSON.stringify(there.body), what).not.toMatch(/game\.b\.(kills|>|replayed)|b-secret/)
    }
    // nothing was created, cancelled or delivered on B's side
    expect((await call(ADMIN, 'GET', '/v1/subscriptions/game.b.nosuch')).status).toBe(404)
    expect((await call(b, 'GET', '/v1/subscriptions/game.b.inbox')).body.pending).toBe(0)
    expect((await call(b, 'GET', '/v1/scheduled')).body.scheduled.map((s: any) => s.id)).toContain(
      scheduled.body.id,
    )
    expect((await call(b, 'GET', `/v1/replays/${job.body.id}`)).body.status).not.toBe('cancelled')
  })
})
