import { createHmac, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, freshDatabase, readAll, sleep, startBroker, waitFor } from './helpers'

const k1 = randomBytes(32).toString('base64')
const ADMIN = `ql_erasure00001_${'E'.repeat(43)}`
let databaseUrl: string
let broker: Broker

const secret = (what: string) => `${what}-${randomBytes(8).toString('hex')}`
const contains = (bytes: unknown, text: string) =>
  Buffer.from(bytes as Uint8Array).includes(Buffer.from(text))

beforeAll(async () => {
  databaseUrl = await freshDatabase()
  broker = await startBroker({ databaseUrl, encryptionKeys: { k1 } })
  await createTopic(broker.url, 'erase.chat', { encryption: 'per-key' })
})
afterAll(() => broker.stop())

describe('crypto-shredding a player erases every copy of their data', () => {
  it('makes copies replayed into another topic unreadable too, also when that topic does not encrypt', async () => {
    const carol = secret('carol-dm')
    await createTopic(broker.url, 'erase.source', { encryption: 'per-key' })
    await createTopic(broker.url, 'erase.archive')
    await api(broker.url, 'POST', '/v1/topics/erase.source/events', { key: 'carol', data: { text: carol } })
    const job = await api(broker.url, 'POST', '/v1/replays', {
      topic: 'erase.source',
      fromOffset: 0,
      target: { topic: 'erase.archive' },
    })
    expect(job.status).toBe(201)
    const copies = await waitFor(
      () => readAll(broker.url, 'erase.archive', 0),
      (e) => e.length === 1,
    )
    expect(copies[0].data.text).toBe(carol)
    const archive = await broker.services.topics.get('erase.archive')
    const [row] = await broker.services.sql`SELECT data FROM ql_events WHERE topic_id = ${archive.id}`
    expect(contains(row!.data, 'carol-dm')).toBe(false)
    expect((await api(broker.url, 'DELETE', '/v1/topics/erase.source/keys/carol')).status).toBe(204)
    const after = await readAll(broker.url, 'erase.archive', 0)
    expect(after[0].data).toBe(null)
    expect(after[0].headers['ql-encryption']).toBe('erased')
  })

  it('makes the dead-letter copies of their events unreadable too', async () => {
    const alice = secret('alice-dm')
    const bob = secret('bob-dm')
    const created = await api(broker.url, 'POST', '/v1/subscriptions', {
      name: 'chat-q',
      topic: 'erase.chat',
      mode: 'queue',
      from: 'earliest',
      maxDeliveries: 1,
    })
    expect(created.status).toBe(201)
    await api(broker.url, 'POST', '/v1/topics/erase.chat/events', {
      events: [
        { key: 'alice', data: { text: alice } },
        { key: 'bob', data: { text: bob } },
      ],
    })
    const pulled = await api(broker.url, 'POST', '/v1/subscriptions/chat-q/pull', { member: 'm', max: 10 })
    expect(pulled.body.deliveries).toHaveLength(2)
    for (const d of pulled.body.deliveries)
      await api(broker.url, 'POST', '/v1/subscriptions/chat-q/term', {
        token: d.token,
        reason: 'cannot render',
      })
    const copies = await waitFor(
      () => readAll(broker.url, 'chat-q.dlq', 0).catch(() => []),
      (e) => e.length === 2,
    )
    // readable while the player's key exists, and sealed at rest
    expect(copies.map((e) => e.data.text).sort()).toEqual([alice, bob].sort())
    const dlq = await broker.services.topics.get('chat-q.dlq')
    const stored = await broker.services
      .sql`SELECT key, data, enc_key FROM ql_events WHERE topic_id = ${dlq.id}`
    expect(stored).toHaveLength(2)
    for (const r of stored) expect(contains(r.data, 'dm-')).toBe(false)

    expect((await api(broker.url, 'DELETE', '/v1/topics/erase.chat/keys/alice')).status).toBe(204)
    const after = await readAll(broker.url, 'chat-q.dlq', 0)
    const aliceCopy = after.find((e) => e.key === 'alice')
    expect(aliceCopy.data).toBe(null)
    expect(aliceCopy.headers['ql-encryption']).toBe('erased')
    expect(aliceCopy.headers['ql-dlq-reason']).toContain('cannot render')
    expect(after.find((e) => e.key === 'bob').data.text).toBe(bob)

    // no cached key helps either
    await broker.stop()
    broker = await startBroker({ databaseUrl, encryptionKeys: { k1 } })
    const again = await readAll(broker.url, 'chat-q.dlq', 0)
    expect(again.find((e) => e.key === 'alice').data).toBe(null)
    expect(again.find((e) => e.key === 'bob').data.text).toBe(bob)
  })

  it('keeps a scheduled event sealed while it waits; shredded before its time it is never written', async () => {
    const carol = secret('carol-gift')
    const dave = secret('dave-gift')
    const schedule = (key: string, text: string) =>
      api(broker.url, 'POST', '/v1/topics/erase.chat/scheduled', {
        event: { key, type: 'gift.sent', data: { text } },
        // time enough to look at the rows and shred before it falls due, on a busy machine too
        delayMs: 3000,
      })
    const forCarol = await schedule('carol', carol)
    const forDave = await schedule('dave', dave)
    expect(forCarol.status).toBe(201)
    expect(forDave.status).toBe(201)

    // what a reader of the database (a backup) sees of the waiting events: no payload
    const rows = await broker.services.sql`SELECT id, event::text AS event, sealed, enc_key FROM ql_scheduled`
    expect(rows).toHaveLength(2)
    for (const r of rows) {
      expect(r.event).not.toContain('gift-')
      expect(contains(r.sealed, 'gift-')).toBe(false)
      expect(r.enc_key).toBe('d')
    }
    // the broker itself still shows them
    const listed = (await api(broker.url, 'GET', '/v1/scheduled?topic=erase.chat')).body.scheduled
    expect(listed.map((s: any) => s.event.data.text).sort()).toEqual([carol, dave].sort())

    expect((await api(broker.url, 'DELETE', '/v1/topics/erase.chat/keys/carol')).status).toBe(204)
    const shredded = (await api(broker.url, 'GET', '/v1/scheduled?topic=erase.chat')).body.scheduled
    const carolsNow = shredded.find((s: any) => s.id === forCarol.body.id)
    expect(carolsNow.event.data).toBe(null)
    expect(carolsNow.event.headers['ql-encryption']).toBe('erased')

    // past their time: dave's is written and readable, carol's is not written at all
    const log = await waitFor(
      () => readAll(broker.url, 'erase.chat', 0),
      (e) => e.some((x) => x.key === 'dave'),
    )
    await sleep(1200)
    const final = await readAll(broker.url, 'erase.chat', 0)
    expect(log.find((e) => e.key === 'dave').data.text).toBe(dave)
    expect(final.filter((e) => e.key === 'carol')).toEqual([])
    const raw = await broker.services.sql`SELECT data FROM ql_events`
    expect(raw.some((r) => contains(r.data, carol))).toBe(false)
    expect(await broker.services.sql`SELECT id FROM ql_scheduled`).toEqual([])
  })

  it('keeps a scheduled event on a topic-encrypted topic sealed at rest until it is written', async () => {
    await createTopic(broker.url, 'erase.news', { encryption: 'topic' })
    const news = secret('news-item')
    const res = await api(broker.url, 'POST', '/v1/topics/erase.news/scheduled', {
      event: { data: { text: news } },
      delayMs: 800,
    })
    expect(res.status).toBe(201)
    const [row] = await broker.services.sql`SELECT event::text AS event, sealed, enc_key FROM ql_scheduled`
    expect(row!.event).not.toContain('news-item')
    expect(contains(row!.sealed, 'news-item')).toBe(false)
    expect(row!.enc_key).toBe('t:k1')
    const written = await waitFor(
      () => readAll(broker.url, 'erase.news', 0),
      (e) => e.length > 0,
    )
    expect(written.map((e) => e.data.text)).toEqual([news])
  })

  it('takes effect on every broker of the database, not only the one that erased', async () => {
    const other = await startBroker({ databaseUrl, encryptionKeys: { k1 } })
    try {
      const erin = secret('erin-dm')
      await api(broker.url, 'POST', '/v1/topics/erase.chat/events', { key: 'erin', data: { text: erin } })
      const readOn = async (b: Broker) =>
        (await readAll(b.url, 'erase.chat', 0)).find((e) => e.key === 'erin')
      // the other broker has opened (and cached) erin's key
      expect((await readOn(other)).data.text).toBe(erin)
      expect((await api(broker.url, 'DELETE', '/v1/topics/erase.chat/keys/erin')).status).toBe(204)
      const seen = await waitFor(
        () => readOn(other),
        (e) => e.data === null,
        3000,
      )
      expect(seen.data).toBe(null)
      expect(seen.headers['ql-encryption']).toBe('erased')
    } finally {
      await other.stop()
    }
  })
})

describe('the token-signing secret', () => {
  const as = { authorization: `Bearer ${ADMIN}` }

  /** Every way a value in ql_settings could be a key: as text, base64, hex, or any string inside JSON. */
  function candidates(value: string): Buffer[] {
    const texts = [value]
    try {
      const doc = JSON.parse(value) as unknown
      const walk = (v: unknown) => {
        if (typeof v === 'string') texts.push(v)
        else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x)
      }
      walk(doc)
    } catch {}
    return texts.flatMap((t) => [Buffer.from(t), Buffer.from(t, 'base64'), Buffer.from(t, 'hex')])
  }

  it('is not in the database: nothing there signs the tokens the broker mints, and two brokers agree', async () => {
    const tokensDb = await freshDatabase()
    // an older start kept the secret in plain text; a start with a master key removes it
    const before = await startBroker({ databaseUrl: tokensDb, auth: 'on', adminKey: ADMIN })
    await before.stop()
    const a = await startBroker({
      databaseUrl: tokensDb,
      auth: 'on',
      adminKey: ADMIN,
      encryptionKeys: { k1 },
    })
    const b = await startBroker({
      databaseUrl: tokensDb,
      auth: 'on',
      adminKey: ADMIN,
      encryptionKeys: { k1 },
    })
    try {
      const minted = await api(a.url, 'POST', '/v1/tokens', {}, as)
      expect(minted.status).toBe(201)
      const token = minted.body.token as string
      const [, payload, signature] = /^qt_([^.]+)\.(.+)$/.exec(token)!
      const settings = await a.services.sql`SELECT name, value FROM ql_settings`
      expect(settings.map((s) => s.name)).toEqual(['token_key'])
      for (const { name, value } of settings) {
        for (const key of candidates(value as string)) {
          const forged = createHmac('sha256', key).update(payload!).digest('base64url')
          expect({ name, signs: forged === signature }).toEqual({ name, signs: false })
        }
      }
      // the token works on both brokers of the database
      const bearer = { authorization: `Bearer ${token}` }
      expect((await api(a.url, 'GET', '/v1/topics', undefined, bearer)).status).toBe(200)
      expect((await api(b.url, 'GET', '/v1/topics', undefined, bearer)).status).toBe(200)
      // a broker without the master key would sign differently: it refuses to start instead
      await expect(startBroker({ databaseUrl: tokensDb, auth: 'on', adminKey: ADMIN })).rejects.toThrow(
        /same QUESTLOG_ENCRYPTION_KEYS/,
      )
      // and a broker with another master key cannot mint tokens that pass here
      const stranger = await startBroker({
        databaseUrl: await freshDatabase(),
        auth: 'on',
        adminKey: ADMIN,
        encryptionKeys: { k1: randomBytes(32).toString('base64') },
      })
      try {
        const foreign = (await api(stranger.url, 'POST', '/v1/tokens', {}, as)).body.token as string
        expect(
          (await api(a.url, 'GET', '/v1/topics', undefined, { authorization: `Bearer ${foreign}` })).status,
        ).toBe(401)
      } finally {
        await stranger.stop()
      }
    } finally {
      await b.stop()
      await a.stop()
    }
  })
})
