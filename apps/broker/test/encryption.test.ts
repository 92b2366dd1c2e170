import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, freshDatabase, readAll, startBroker } from './helpers'

const k1 = randomBytes(32).toString('base64')
const k2 = randomBytes(32).toString('base64')
let databaseUrl: string
let broker: Broker

beforeAll(async () => {
  databaseUrl = await freshDatabase()
  broker = await startBroker({ databaseUrl, encryptionKeys: { k1 } })
})
afterAll(() => broker.stop())

/** The stored bytes of a topic, read straight from the table. */
async function storedPayloads(topic: string): Promise<Array<{ data: Buffer; enc_key: string | null }>> {
  const t = await broker.services.topics.get(topic)
  return (await broker.services
    .sql`SELECT data, enc_key FROM ql_events WHERE topic_id = ${t.id} ORDER BY partition, "offset"`) as any
}

describe('payload encryption at rest', () => {
  it('keeps no plaintext in the database while readers see plaintext', async () => {
    await createTopic(broker.url, 'player.inbox', { encryption: 'topic', partitions: 2 })
    const secret = `whisper-${randomBytes(6).toString('hex')}`
    await api(broker.url, 'POST', '/v1/topics/player.inbox/events', {
      events: [{ key: 'p1', data: { text: secret } }, { data: { text: `${secret}-2` } }],
    })
    const rows = await storedPayloads('player.inbox')
    expect(rows).toHaveLength(2)
    for (const r of rows) {
      expect(r.enc_key).toBe('t:k1')
      expect(Buffer.from(r.data).includes(Buffer.from('whisper'))).toBe(false)
    }
    const all = [
      ...(await readAll(broker.url, 'player.inbox', 0)),
      ...(await readAll(broker.url, 'player.inbox', 1)),
    ]
    expect(all.map((e) => e.data.text).sort()).toEqual([secret, `${secret}-2`].sort())
  })

  it('keeps old events readable after the active key rotates', async () => {
    await api(broker.url, 'POST', '/v1/topics/player.inbox/events', {
      partition: 0,
      data: { text: 'sealed with k1' },
    })
    await broker.stop()
    broker = await startBroker({ databaseUrl, encryptionKeys: { k1, k2 }, activeEncryptionKey: 'k2' })
    await api(broker.url, 'POST', '/v1/topics/player.inbox/events', {
      partition: 0,
      data: { text: 'sealed with k2' },
    })
    const rows = await storedPayloads('player.inbox')
    expect(new Set(rows.map((r) => r.enc_key))).toEqual(new Set(['t:k1', 't:k2']))
    const texts = (await readAll(broker.url, 'player.inbox', 0)).map((e) => e.data.text)
    expect(texts).toContain('sealed with k1')
    expect(texts).toContain('sealed with k2')
  })

  it('erasing one player key makes exactly that player’s events unreadable', async () => {
    await createTopic(broker.url, 'player.chat', { encryption: 'per-key' })
    await api(broker.url, 'POST', '/v1/topics/player.chat/events', {
      events: [
        { key: 'alice', data: { text: 'hi from alice' } },
        { key: 'bob', data: { text: 'hi from bob' } },
        { key: 'alice', data: { text: 'bye from alice' } },
      ],
    })
    expect((await api(broker.url, 'DELETE', '/v1/topics/player.chat/keys/alice')).status).toBe(204)
    const events = await readAll(broker.url, 'player.chat', 0)
    const alice = events.filter((e) => e.key === 'alice')
    const bob = events.filter((e) => e.key === 'bob')
    expect(alice.map((e) => e.data)).toEqual([null, null])
    expect(alice.every((e) => e.headers['ql-encryption'] === 'erased')).toBe(true)
    expect(bob.map((e) => e.data.text)).toEqual(['hi from bob'])
    // also after a restart (no cached keys)
    await broker.stop()
    broker = await startBroker({ databaseUrl, encryptionKeys: { k1, k2 }, activeEncryptionKey: 'k2' })
    const again = await readAll(broker.url, 'player.chat', 0)
    expect(again.filter((e) => e.key === 'alice').map((e) => e.data)).toEqual([null, null])
    expect(again.filter((e) => e.key === 'bob').map((e) => e.data.text)).toEqual(['hi from bob'])
    expect((await api(broker.url, 'DELETE', '/v1/topics/player.chat/keys/alice')).status).toBe(404)
  })

  it('refuses an encrypted topic on a broker without keys', async () => {
    const plain = await startBroker()
    try {
      const res = await api(plain.url, 'POST', '/v1/topics', { name: 'x', encryption: 'topic' })
      expect(res.status).toBe(400)
      expect(res.body.error.details.issues[0].path).toBe('encryption')
    } finally {
      await plain.stop()
    }
  })
})
