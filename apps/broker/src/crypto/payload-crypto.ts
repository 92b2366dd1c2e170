import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { Sql } from '../storage/db'
import { type NewEvent, payloadOf, type StoredEvent } from '../storage/event-store'

export type EncryptionMode = 'none' | 'topic' | 'per-key'

const IV = 12
const TAG = 16
const MAX_CACHED_DATA_KEYS = 10_000
/** Brokers tell each other here which data keys were erased, so none keeps one in its cache. */
const ERASED_CHANNEL = 'ql_data_key_erased'

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
 * A stored key id: `t:<master>` (the topic's key under that master) or `d` (the
 * event key's data key), of the topic the event was sealed in, or with
 * `@<topic id>` of another one: a dead-letter copy keeps its source's sealed
 * bytes, so erasing the source's data key erases the copy too.
 */
function parseKeyId(encKey: string, topicId: number): { base: string; origin: number } {
  const at = encKey.indexOf('@')
  return at < 0
    ? { base: encKey, origin: topicId }
    : { base: encKey.slice(0, at), origin: Number(encKey.slice(at + 1)) }
}

/** How an event's payload was sealed, qualified so that it can be opened from another topic. */
export interface SealedPayload {
  data: Buffer
  encKey: string
}

/** What a scheduled event's payload opens to: its bytes, or why there are none. */
export type OpenedPayload = { data: Buffer } | { state: 'erased' | 'key-missing' }

/**
 * Payload encryption at rest with AES-256-GCM. `topic` mode seals with a key
 * derived per topic from the active master key; `per-key` mode seals each
 * event key's events (e.g. a player's) with a data key of their own, stored
 * wrapped by a master key, so deleting that data key makes exactly those
 * events unreadable, wherever their sealed bytes went: dead-letter copies and
 * scheduled events not yet due are sealed under the same data key. The id of
 * the key used is stored with each event (see `parseKeyId`), so master keys can
 * rotate.
 */
export class PayloadCrypto {
  private readonly masters: Map<string, Buffer>
  private readonly active: string | undefined
  private readonly dataKeys = new Map<string, Buffer | null>()
  /** Counts erasures heard of: a key read from the database before one is not cached after it. */
  private erasures = 0

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

  /**
   * Follows other brokers' erasures. Whenever the listening connection (re)starts, every cached
   * data key is dropped: an erasure announced while it was down is not missed.
   */
  async start(): Promise<() => Promise<void>> {
    const { unlisten } = await this.sql.listen(
      ERASED_CHANNEL,
      // `<topic id>:<event key>`: the id has no colon
      (payload) => {
        const colon = payload.indexOf(':')
        this.erasures++
        this.dataKeys.delete(`${payload.slice(0, colon)}\u0000${payload.slice(colon + 1)}`)
      },
      () => {
        this.erasures++
        this.dataKeys.clear()
      },
    )
    return unlisten
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
    const erasures = this.erasures
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
    if (this.erasures === erasures) this.remember(cacheKey, key)
    return key
  }

  /** The key new payloads of this event key are sealed with on this topic, and its id. */
  private async sealingKey(
    topic: { id: number; encryption: EncryptionMode },
    eventKey: string | null,
  ): Promise<{ key: Buffer; encKey: string }> {
    if (!this.active)
      throw new Error('this topic is encrypted but the broker has no encryption keys configured')
    if (topic.encryption === 'per-key' && eventKey !== null)
      return { key: (await this.dataKey(topic.id, eventKey, true))!, encKey: 'd' }
    return { key: this.topicKey(this.active, topic.id)!, encKey: `t:${this.active}` }
  }

  /** The key a stored key id names (undefined: its master is not configured; null: erased). */
  private async openingKey(encKey: string, topicId: number, eventKey: string | null) {
    const { base, origin } = parseKeyId(encKey, topicId)
    if (base === 'd') return eventKey === null ? null : await this.dataKey(origin, eventKey, false)
    return this.topicKey(base.slice(2), origin)
  }

  /** Seals the payloads of events bound for an encrypted topic (they keep their plaintext for live readers). */
  async encrypt(topic: { id: number; encryption: EncryptionMode }, events: NewEvent[]): Promise<void> {
    if (topic.encryption === 'none') return
    const aad = String(topic.id)
    for (const e of events) {
      // sealed already, under the key of the event it copies
      if (e.storedData !== undefined) continue
      const { key, encKey } = await this.sealingKey(topic, e.key)
      e.storedData = seal(key, payloadOf(e), aad)
      e.encKey = encKey
    }
  }

  /**
   * Opens sealed payloads read from the log; an erased or unknown key leaves `data` empty and says
   * so in a header. An opened event keeps its sealed form in `sealed`, for copies that must stay
   * under the same key.
   */
  async decrypt(topicId: number, events: StoredEvent[]): Promise<void> {
    for (const e of events) {
      if (!e.encKey) continue
      const { base, origin } = parseKeyId(e.encKey, topicId)
      const key = await this.openingKey(e.encKey, topicId, e.key)
      try {
        if (!key) throw new Error(base === 'd' ? 'erased' : 'key-missing')
        const sealed = e.data
        e.data = open(key, sealed, String(origin))
        e.sealed = { data: sealed, encKey: `${base}@${origin}` }
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

  /**
   * Seals a scheduled event's payload under the key that will seal it in the log, bound to the
   * scheduled event's id; null when the topic stores payloads in the clear.
   */
  async sealScheduled(
    topic: { id: number; encryption: EncryptionMode },
    eventKey: string | null,
    id: string,
    payload: Buffer,
  ): Promise<SealedPayload | null> {
    if (topic.encryption === 'none') return null
    const { key, encKey } = await this.sealingKey(topic, eventKey)
    return { data: seal(key, payload, `scheduled:${topic.id}:${id}`), encKey }
  }

  async openScheduled(
    topicId: number,
    eventKey: string | null,
    id: string,
    sealed: SealedPayload,
  ): Promise<OpenedPayload> {
    const key = await this.openingKey(sealed.encKey, topicId, eventKey)
    if (key === null) return { state: 'erased' }
    if (key === undefined) return { state: 'key-missing' }
    return { data: open(key, sealed.data, `scheduled:${topicId}:${id}`) }
  }

  /**
   * Crypto-shredding: deletes an event key's data key; its events, their dead-letter copies and
   * its scheduled events can never be read again, on any broker (each drops the key from its cache).
   */
  async erase(topicId: number, eventKey: string): Promise<boolean> {
    const cacheKey = `${topicId}\u0000${eventKey}`
    const rows = await this.sql.begin(async (tx) => {
      const deleted =
        await tx`DELETE FROM ql_data_keys WHERE topic_id = ${topicId} AND event_key = ${eventKey} RETURNING 1`
      // delivered at commit
      await tx`SELECT pg_notify(${ERASED_CHANNEL}, ${`${topicId}:${eventKey}`})`
      return deleted
    })
    this.remember(cacheKey, null)
    return rows.length > 0
  }
}
