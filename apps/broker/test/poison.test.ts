import { PROTOCOL_VERSION } from '@questlog/protocol'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import {
  type ApiResponse,
  api,
  createTopic,
  freshDatabase,
  holdRow,
  rawSocket,
  readAll,
  sleep,
  startBroker,
  waitingAppends,
} from './helpers'

const NUL = '\u0000'
const LONE = '\ud800'

/** Every field of a publish that holds text, each made poisonous on its own, with the path the refusal names. */
function poisonedEvents(bad: string): Array<{ event: Record<string, unknown>; path: string }> {
  return [
    { event: { data: 1, key: `k${bad}` }, path: 'key' },
    { event: { data: 1, id: `id${bad}` }, path: 'id' },
    { event: { data: 1, source: `/src${bad}` }, path: 'source' },
    { event: { data: 1, dedupeKey: `d${bad}` }, path: 'dedupeKey' },
    { event: { data: 1, producer: `p${bad}`, seq: 1 }, path: 'producer' },
    { event: { data: 1, contentType: `application/json${bad}` }, path: 'contentType' },
    { event: { data: 1, headers: { [`h${bad}`]: 'v' } }, path: `headers.h${bad}` },
    { event: { data: 1, headers: { h: `v${bad}` } }, path: 'headers.h' },
  ]
}

/** A good producer's HTTP publishes: every one must be answered 201. */
function goodProducer(base: string, topic: string) {
  const answers: ApiResponse[] = []
  let stop = false
  const run = (async () => {
    for (let i = 0; !stop; i++) {
      answers.push(
        await api(base, 'POST', `/v1/topics/${topic}/events`, {
          events: [
            { key: 'good', data: { i } },
            { key: 'good', data: { i, again: true } },
          ],
        }),
      )
    }
  })()
  return {
    answers,
    async stop() {
      stop = true
      await run
    },
  }
}

/** A broker of its own for a describe block, a direct connection to its database, and a one-partition topic. */
function brokerWithTopic(topic: string) {
  const ctx = {} as { broker: Broker; sql: postgres.Sql }
  beforeAll(async () => {
    const databaseUrl = await freshDatabase()
    ctx.broker = await startBroker({ databaseUrl })
    ctx.sql = postgres(databaseUrl, { max: 4, onnotice: () => {} })
    await createTopic(ctx.broker.url, topic, { partitions: 1 })
  })
  afterAll(async () => {
    await ctx.broker?.stop()
    await ctx.sql?.end()
  })
  return ctx
}

describe('a poison event fails only its own request', () => {
  const ctx = brokerWithTopic('poison.one')

  it('refuses NUL and lone surrogates in every text field with 400 and the field path, while a good producer on the same partition sees no failure', async () => {
    const good = [goodProducer(ctx.broker.url, 'poison.one'), goodProducer(ctx.broker.url, 'poison.one')]
    for (const bad of [NUL, LONE]) {
      for (const { event, path } of poisonedEvents(bad)) {
        const one = await api(ctx.broker.url, 'POST', '/v1/topics/poison.one/events', event)
        expect(one.status, `${JSON.stringify(path)}: ${JSON.stringify(one.body)}`).toBe(400)
        expect(one.body.error.details.issues.map((i: { path: string }) => i.path)).toContain(path)
        const batch = await api(ctx.broker.url, 'POST', '/v1/topics/poison.one/events', {
          events: [{ data: 'fine' }, event],
        })
        expect(batch.status).toBe(400)
        expect(batch.body.error.details.issues.map((i: { path: string }) => i.path)).toContain(
          `events.1.${path}`,
        )
      }
    }
    await Promise.all(good.map((g) => g.stop()))
    const answers = good.flatMap((g) => g.answers)
    expect(answers.length).toBeGreaterThan(0)
    expect(answers.filter((a) => a.status !== 201).map((a) => a.body)).toEqual([])
    // the log holds exactly the good producers' events, in the order they were answered
    const stored = await readAll(ctx.broker.url, 'poison.one', 0)
    expect(stored).toHaveLength(answers.length * 2)
    expect(stored.every((e) => e.key === 'good')).toBe(true)
  })

  it('stores text that was invalid UTF-8 on the wire safely, as the replacement character', async () => {
    // a JSON body whose key holds the byte 0xff, which no UTF-8 text contains
    const body = Buffer.concat([Buffer.from('{"key":"k'), Buffer.from([0xff]), Buffer.from('","data":1}')])
    const res = await fetch(`${ctx.broker.url}/v1/topics/poison.one/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    const receipt = (await res.json()) as { offset: string }
    expect(res.status).toBe(201)
    const page = await api(
      ctx.broker.url,
      'GET',
      `/v1/topics/poison.one/events?from=${receipt.offset}&limit=1`,
    )
    expect(page.body.events[0].key).toBe('k\ufffd')
  })

  it('refuses poison over both WebSocket publish forms, naming the field, and keeps serving the connection', async () => {
    const s = await rawSocket(ctx.broker.url)
    s.send({ op: 'hello', v: PROTOCOL_VERSION })
    expect((await s.next(1)).op).toBe('welcome')
    s.send({ op: 'publish', id: 1, topic: 'poison.one', events: [{ data: 1 }, { data: 2, key: `a${NUL}` }] })
    expect(await s.next(2)).toMatchObject({ op: 'error', id: 1, code: 'validation_error' })
    expect(s.frames[1].details.issues[0].path).toBe('events.1.key')
    const head = { op: 'publish', id: 2, topic: 'poison.one', ids: ['x1', `x${LONE}`], keys: [null, 'k'] }
    s.sendColumns(head, '[1,2]')
    expect(await s.next(3)).toMatchObject({ op: 'error', id: 2, code: 'validation_error' })
    expect(s.frames[2].details.issues[0].path).toBe('events.1.id')
    s.sendColumns({ op: 'publish', id: 3, topic: 'poison.one', keys: [`k${NUL}`] }, '[1]')
    expect(await s.next(4)).toMatchObject({ op: 'error', id: 3, code: 'validation_error' })
    expect(s.frames[3].details.issues[0].path).toBe('events.0.key')
    s.send({ op: 'publish', id: 4, topic: 'poison.one', events: [{ data: 'after', key: 'ws' }] })
    expect(await s.next(5)).toMatchObject({ op: 'receipts', id: 4 })
    s.ws.close()
  })

  it('refuses poison in CloudEvents attributes and extensions', async () => {
    const post = (body: unknown) =>
      api(ctx.broker.url, 'POST', '/v1/topics/poison.one/cloudevents', JSON.stringify(body), {
        'content-type': 'application/cloudevents+json',
      })
    const ce = { specversion: '1.0', type: 'game.kill', data: 1 }
    expect((await post({ ...ce, id: `e${NUL}`, source: '/s' })).status).toBe(400)
    expect((await post({ ...ce, id: 'e1', source: `/s${LONE}` })).status).toBe(400)
    expect((await post({ ...ce, id: 'e2', source: '/s', region: `eu${NUL}` })).status).toBe(400)
    const binary = await api(ctx.broker.url, 'POST', '/v1/topics/poison.one/cloudevents', '1', {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'e%00',
      'ce-source': '/s',
      'ce-type': 'game.kill',
    })
    expect(binary.status).toBe(400)
  })
})

// A batch the database refuses for a reason no check foresaw must not take the
// other requests of its group commit with it: here a trigger refuses one key.
describe('a batch the database refuses', () => {
  const ctx = brokerWithTopic('poison.db')
  beforeAll(async () => {
    await ctx.sql.unsafe(`
      CREATE FUNCTION refuse_cursed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.key = 'cursed' THEN RAISE EXCEPTION 'cursed key' USING ERRCODE = '22023'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_cursed BEFORE INSERT ON ql_events FOR EACH ROW EXECUTE FUNCTION refuse_cursed();`)
  })

  it('writes the other requests of its group commit apart, so only the bad one fails', async () => {
    const publish = (key: string, i: number) =>
      api(ctx.broker.url, 'POST', '/v1/topics/poison.db/events', { key, data: { i } })
    // the partition's row held from another session: the writer's appends wait, and the publishes
    // that come meanwhile gather in one group commit behind them
    const release = await holdRow(ctx.sql, 'partition', 'poison.db')
    const first = publish('good', -1)
    await waitingAppends(ctx.sql)
    const fillers = [publish('good', -2), publish('good', -3), publish('good', -4)]
    await sleep(200)
    const gathered = [0, 1, 2, 3, 4, 5].map((i) => publish(i === 3 ? 'cursed' : 'good', i))
    await sleep(300)
    await release()
    const answers = await Promise.all([first, ...fillers, ...gathered])
    const statuses = answers.map((a) => a.status)
    expect(statuses.filter((s) => s !== 201)).toEqual([400])
    expect(answers[7]!.status).toBe(400)
    expect(answers[7]!.body.error.message).toMatch(/cursed key/)
    const stored = await readAll(ctx.broker.url, 'poison.db', 0)
    expect(stored.map((e) => e.data.i).sort((a, b) => a - b)).toEqual([-4, -3, -2, -1, 0, 1, 2, 4, 5])
    // gapless, and the next publish is stored after them
    expect(stored.map((e) => Number(e.offset))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
    expect((await publish('good', 6)).body.offset).toBe('9')
  })
})
