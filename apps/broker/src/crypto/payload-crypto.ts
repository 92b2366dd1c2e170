import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { Sql } from '../storage/db'
import { type NewEvent, payloadOf, type StoredEvent } from '../storage/event-store'

export type EncryptionMode = 'none' | 'topic' | 'per-key'

const IV = 12
const TAG = 16
const MAX_CACHED_DATA_KEYS = 10_000

function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(aad))
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([iv, body, cipher.getAuthTag()])
}

function open(key: Buffer, blob: Buffer, aad: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, IV))
  decipher.setAAD(Buffer.from(aad))
  decipher.setAuthTag(blob.subarray(blob.length - TAG))
  return Buffer.concat([decipher.update(blob.subarray(IV, blob.length - TAG)), decipher.final()])
}

/**
 * Payload encryption at rest with AES-256-GCM. `topic` mode seals with a key
 * derived per topic from the active master key; `per-key` mode seals each
 * event key's events (e.g. a player's) with a data key of their own, stored
 * wrapped by a master key, so deleting that data key makes exactly those
 * events unreadable. The id of the key used is stored with each event
 * (`t:<master>` or `d`), so master keys can rotate.
 */
export class PayloadCrypto {
  private readonly masters: Map<string, Buffer>
  private readonly active: string | undefined
  private readonly dataKeys = new Map<string, Buffer | null>()

  constructor(
    private readonly sql: Sql,
    keys: Record<string, string>,
    active: string | undefined,
    private readonly log: Logger,
  ) {
    this.masters = new Map(Object.entries(keys).map(([id, k]) => [id, Buffer.from(k, 'base64')]))
    this.active = active ?? this.masters.keys().next().value
  }

  get enabled(): boolean {
    return this.active !== undefined
  }

  private topicKey(masterId: string, topicId: number): Buffer | undefined {
    const master = this.masters.get(masterId)
    if (!master) return undefined
    return Buffer.from(
      hkdfSync('sha256', master, Buffer.from('questlog-topic-key'), Buffer.from(String(topicId)), 32),
    )
  }

  private remember(k: string, v: Buffer | null): void {
    if (this.dataKeys.size >= MAX_CACHED_DATA_KEYS) this.dataKeys.delete(this.dataKeys.keys().next().value!)
    this.dataKeys.set(k, v)
  }

  /** The data key of one event key; created (and stored wrapped) on first use when `create`. */
  private async dataKey(topicId: number, eventKey: string, create: boolean): Promise<Buffer | null> {
    const cacheKey = `${topicId}\u0000${eventKey}`
    const cached = this.dataKeys.get(cacheKey)
    if (cached !== undefined && (cached !== null || !create)) return cached
    const aad = `${topicId}:${eventKey}`
    if (create && this.active) {
      const fresh = randomBytes(32)
      await this.sql`
        INSERT INTO ql_data_keys (topic_id, event_key, master_key_id, wrapped)
        VALUES (${topicId}, ${eventKey}, ${this.active}, ${seal(this.masters.get(this.active)!, fresh, aad)})
        ON CONFLICT DO NOTHING`
    }
    const [row] = await this.sql`
      SELECT master_key_id, wrapped FROM ql_data_keys WHERE topic_id = ${topicId} AND event_key = ${eventKey}`
    let key: Buffer | null = null
    const master = row ? this.masters.get(row.master_key_id as string) : undefined
    if (row && master) key = open(master, row.wrapped as Buffer, aad)
    this.remember(cacheKey, key)
    return key
  }

  /** Seals the payloads of events bound for an encrypted topic (they keep their plaintext for live readers). */
  async encrypt(topic: { id: number; encryption: EncryptionMode }, events: NewEvent[]): Promise<void> {
    if (topic.encryption === 'none') return
    if (!this.active)
      throw new Error('this topic is encrypted but the broker has no encryption keys configured')
    const aad = String(topic.id)
    for (const e of events) {
      if (topic.encryption === 'per-key' && e.key !== null) {
        e.storedData = seal((await this.dataKey(topic.id, e.key, true))!, payloadOf(e), aad)
        e.encKey = 'd'
      } else {
        e.storedData = seal(this.topicKey(this.active, topic.id)!, payloadOf(e), aad)
        e.encKey = `t:${this.active}`
      }
    }
  }

  /** Opens sealed payloads read from the log; an erased or unknown key leaves `data` empty and says so in a header. */
  async decrypt(topicId: number, events: StoredEvent[]): Promise<void> {
    const aad = String(topicId)
    for (const e of events) {
      if (!e.encKey) continue
      let key: Buffer | null | undefined
      if (e.encKey === 'd') key = e.key === null ? null : await this.dataKey(topicId, e.key, false)
      else key = this.topicKey(e.encKey.slice(2), topicId)
      try {
        if (!key) throw new Error(e.encKey === 'd' ? 'erased' : 'key-missing')
        e.data = open(key, e.data, aad)
      } catch (err) {
        const state = (err as Error).message === 'erased' ? 'erased' : 'key-missing'
        if (state === 'key-missing')
          this.log.warn({ topicId, encKey: e.encKey }, 'cannot open an event: its key is not configured')
        e.data = Buffer.from('null')
        e.headersJson = JSON.stringify({
          ...(e.headersJson ? (JSON.parse(e.headersJson) as Record<string, string>) : {}),
          'ql-encryption': state,
        })
      }
      e.encKey = null
    }
  }

  /** Crypto-shredding: deletes an event key's data key; its events can never be read again. */
  async erase(topicId: number, eventKey: string): Promise<boolean> {
    const rows = await this
      .sql`DELETE FROM ql_data_keys WHERE topic_id = ${topicId} AND event_key = ${eventKey} RETURNING 1`
    this.remember(`${topicId}\u0000${eventKey}`, null)
    return rows.length > 0
  }
}
