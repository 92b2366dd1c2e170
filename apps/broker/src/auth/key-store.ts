import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import {
  type AclRule,
  AuthError,
  type CreateKey,
  isAllowedPattern,
  type KeyQuotas,
  NotFoundError,
  ValidationError,
} from '@questlog/protocol'
import type { Sql } from '../storage/db'
import { ADMIN_RULES, type Principal } from './principal'
import { SessionWatch } from './session-watch'

export interface KeyInfo {
  id: string
  name: string
  rules: AclRule[]
  rateEventsPerSec: number | null
  rateBytesPerSec: number | null
  /** Quotas of its own; the broker's defaults for the rest. */
  quotas: KeyQuotas
  createdAt: string
  expiresAt: string | null
  revokedAt: string | null
}

interface KeyRow extends KeyInfo {
  secretHash: string
}

const KEY = /^ql_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/
const TOKEN = /^qt_([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/

/** The key id a credential names, whether or not the key exists or the secret matches. */
export function claimedKeyId(credential: string | undefined): string | null {
  return (credential && KEY.exec(credential)?.[1]) || null
}
// a revoked key stops working on every broker within this long
const CACHE_MS = 2000

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

/** How the token-signing secret is had: derived from a master key, or (without one) kept in the database. */
export type TokenSecretSource = 'derived' | 'stored'

/** What ql_settings keeps of a derived token secret: which master key and a salt, neither of them secret. */
interface TokenKeyRecord {
  master: string
  salt: string
}

function toInfo(r: Record<string, unknown>): KeyRow {
  const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString())
  return {
    id: r.id as string,
    name: r.name as string,
    rules: JSON.parse(r.rules_json as string) as AclRule[],
    rateEventsPerSec: r.rate_events_per_sec === null ? null : Number(r.rate_events_per_sec),
    rateBytesPerSec: r.rate_bytes_per_sec === null ? null : Number(r.rate_bytes_per_sec),
    // jsonb, parsed or as text depending on the client's parsers
    quotas: (typeof r.quotas === 'string' ? JSON.parse(r.quotas) : (r.quotas ?? {})) as KeyQuotas,
    createdAt: iso(r.created_at)!,
    expiresAt: iso(r.expires_at),
    revokedAt: iso(r.revoked_at),
    secretHash: r.secret_hash as string,
  }
}

/**
 * API keys: `ql_<id>_<secret>`, shown once, stored as a SHA-256 of the secret
 * (the secret is 256 random bits, so a fast hash is enough). Tokens for
 * browsers, `qt_<payload>.<signature>`, are minted with a key, carry rules
 * within the key's and an expiry, and die with their key.
 */
export class KeyStore {
  private readonly cache = new Map<string, { at: number; row: KeyRow | undefined }>()
  private tokenSecret: Buffer | undefined
  private readonly masters: Map<string, Buffer>
  /** Open WebSocket and SSE sessions, ended when their key or token stops being valid. */
  readonly sessions = new SessionWatch((ids) => this.endedKeys(ids))

  constructor(
    private readonly sql: Sql,
    /** The payload encryption master keys (base64 by id) and the active one's id. */
    masterKeys: Record<string, string> = {},
    private readonly activeMaster?: string,
  ) {
    this.masters = new Map(Object.entries(masterKeys).map(([id, k]) => [id, Buffer.from(k, 'base64')]))
  }

  /**
   * Settles the token-signing secret every broker on this database shares. With a master key
   * configured it is derived (HKDF) from that key and a salt kept in ql_settings: the database
   * alone, a backup or a replica, holds nothing that signs a token. Without one there is nothing
   * outside the database for the brokers to share, so a random secret is kept there as before.
   */
  async init(): Promise<TokenSecretSource> {
    const masterId = this.activeMaster ?? this.masters.keys().next().value
    if (masterId === undefined) {
      const [derived] = await this.sql`SELECT 1 FROM ql_settings WHERE name = 'token_key'`
      if (derived)
        throw new Error(
          "the brokers of this database derive the token-signing secret from a master key: give this one the same QUESTLOG_ENCRYPTION_KEYS (or, to go back to a stored secret, DELETE FROM ql_settings WHERE name = 'token_key')",
        )
      await this
        .sql`INSERT INTO ql_settings (name, value) VALUES ('token_secret', ${randomBytes(32).toString('base64')})
                     ON CONFLICT DO NOTHING`
      const [row] = await this.sql`SELECT value FROM ql_settings WHERE name = 'token_secret'`
      this.tokenSecret = Buffer.from(row!.value as string, 'base64')
      return 'stored'
    }
    const fresh = (): string => JSON.stringify({ master: masterId, salt: randomBytes(32).toString('base64') })
    await this
      .sql`INSERT INTO ql_settings (name, value) VALUES ('token_key', ${fresh()}) ON CONFLICT DO NOTHING`
    let [row] = await this.sql`SELECT value FROM ql_settings WHERE name = 'token_key'`
    let record = JSON.parse(row!.value as string) as TokenKeyRecord
    if (!this.masters.has(record.master)) {
      // the key it was derived from is no longer configured: derive anew (earlier tokens stop verifying)
      await this
        .sql`UPDATE ql_settings SET value = ${fresh()} WHERE name = 'token_key' AND value = ${row!.value as string}`
      ;[row] = await this.sql`SELECT value FROM ql_settings WHERE name = 'token_key'`
      record = JSON.parse(row!.value as string) as TokenKeyRecord
    }
    const master = this.masters.get(record.master)
    if (!master)
      throw new Error(
        `the token-signing secret is derived from master key '${record.master}', which this broker does not have: give every broker the same QUESTLOG_ENCRYPTION_KEYS`,
      )
    this.tokenSecret = Buffer.from(
      hkdfSync('sha256', master, Buffer.from(record.salt, 'base64'), 'questlog-token-signing', 32),
    )
    // the plain secret an earlier start kept: it must not go on signing tokens for whoever reads it
    await this.sql`DELETE FROM ql_settings WHERE name = 'token_secret'`
    return 'derived'
  }

  /**
   * The secret brokers prove to each other on a peer link, derived from the token-signing
   * secret (so it is as well kept: derived from the master key when one is configured). Only
   * brokers of this database hold it; a client that reaches the peer endpoint cannot answer.
   */
  peerSecret(): Buffer {
    if (!this.tokenSecret) throw new Error('the key store is not initialized')
    return createHmac('sha256', this.tokenSecret).update('questlog-peer-link').digest()
  }

  async count(): Promise<number> {
    const [r] = await this.sql`SELECT count(*)::int AS n FROM ql_api_keys WHERE revoked_at IS NULL`
    return Number(r!.n)
  }

  async create(input: CreateKey, secretKey?: string): Promise<{ key: string; info: KeyInfo }> {
    let id: string
    let secret: string
    if (secretKey) {
      const m = KEY.exec(secretKey)
      if (!m)
        throw new ValidationError([
          {
            path: 'key',
            message: 'an admin key looks like ql_<12 letters or digits>_<43 base64url characters>',
          },
        ])
      id = m[1]!
      secret = m[2]!
    } else {
      id = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12)
      secret = randomBytes(32).toString('base64url')
    }
    const [row] = await this.sql`
      INSERT INTO ql_api_keys (id, name, secret_hash, rules, rate_events_per_sec, rate_bytes_per_sec, expires_at, quotas)
      VALUES (${id}, ${input.name}, ${sha256(secret)}, ${JSON.stringify(input.rules)}::jsonb, ${input.rateEventsPerSec ?? null},
              ${input.rateBytesPerSec ?? null}, ${input.expiresAt ?? null}::timestamptz, ${JSON.stringify(input.quotas ?? {})}::jsonb)
      ON CONFLICT (id) DO UPDATE SET name = ql_api_keys.name
      RETURNING *, rules::text AS rules_json`
    const { secretHash: _, ...info } = toInfo(row!)
    return { key: `ql_${id}_${secret}`, info }
  }

  /** The key given by QUESTLOG_ADMIN_KEY, stored if new. */
  async ensureAdmin(secretKey: string): Promise<void> {
    await this.create({ name: 'admin (QUESTLOG_ADMIN_KEY)', rules: ADMIN_RULES }, secretKey)
  }

  async list(): Promise<KeyInfo[]> {
    const rows = await this.sql`SELECT *, rules::text AS rules_json FROM ql_api_keys ORDER BY created_at`
    return rows.map((r) => {
      const { secretHash: _, ...info } = toInfo(r)
      return info
    })
  }

  async revoke(id: string): Promise<void> {
    const rows = await this
      .sql`UPDATE ql_api_keys SET revoked_at = now() WHERE id = ${id} AND revoked_at IS NULL RETURNING id`
    if (rows.length === 0) throw new NotFoundError(`no active key '${id}'`, { id })
    this.cache.delete(id)
    // sessions on this broker end now; other brokers see it on their next check
    void this.sessions.check()
  }

  /** Of `ids`, the keys that can no longer be used and why, read in one query (and cached). */
  private async endedKeys(ids: string[]): Promise<Map<string, string>> {
    const rows = await this
      .sql`SELECT *, rules::text AS rules_json FROM ql_api_keys WHERE id = ANY(${ids}::text[])`
    const found = new Map(rows.map((r) => [r.id as string, toInfo(r)]))
    const ended = new Map<string, string>()
    const at = Date.now()
    for (const id of ids) {
      const row = found.get(id)
      this.cache.set(id, { at, row })
      if (!row) ended.set(id, 'no longer exists')
      else if (row.revokedAt !== null) ended.set(id, 'was revoked')
      else if (!this.usable(row)) ended.set(id, 'has expired')
    }
    return ended
  }

  private async row(id: string): Promise<KeyRow | undefined> {
    const hit = this.cache.get(id)
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.row
    const [r] = await this.sql`SELECT *, rules::text AS rules_json FROM ql_api_keys WHERE id = ${id}`
    const row = r ? toInfo(r) : undefined
    this.cache.set(id, { at: Date.now(), row })
    return row
  }

  private usable(row: KeyRow | undefined): row is KeyRow {
    if (!row || row.revokedAt !== null) return false
    return row.expiresAt === null || Date.parse(row.expiresAt) > Date.now()
  }

  /** Who a bearer credential (key or token) belongs to; AuthError when it is missing, malformed, expired or revoked. */
  async authenticate(credential: string | undefined): Promise<Principal> {
    if (!credential) throw new AuthError('send an API key or token: Authorization: Bearer <key>')
    const key = KEY.exec(credential)
    if (key) {
      const row = await this.row(key[1]!)
      const given = Buffer.from(sha256(key[2]!))
      if (!row || !timingSafeEqual(given, Buffer.from(row.secretHash))) throw new AuthError('unknown API key')
      if (row.revokedAt !== null) throw new AuthError('this API key was revoked')
      if (!this.usable(row)) throw new AuthError('this API key has expired')
      return {
        keyId: row.id,
        name: row.name,
        rules: row.rules,
        kind: 'key',
        rateEventsPerSec: row.rateEventsPerSec,
        rateBytesPerSec: row.rateBytesPerSec,
        quotas: row.quotas,
        expiresAt: row.expiresAt === null ? null : Date.parse(row.expiresAt),
      }
    }
    const token = TOKEN.exec(credential)
    if (token) {
      const expected = createHmac('sha256', this.tokenSecret!).update(token[1]!).digest('base64url')
      if (!timingSafeEqual(Buffer.from(expected), Buffer.from(token[2]!)))
        throw new AuthError('token signature does not match')
      const body = JSON.parse(Buffer.from(token[1]!, 'base64url').toString('utf8')) as {
        k: string
        r: AclRule[]
        e: number
      }
      if (body.e <= Date.now()) throw new AuthError('this token has expired')
      const row = await this.row(body.k)
      if (!this.usable(row)) throw new AuthError('the key that minted this token is no longer valid')
      // the key's own denies still apply
      const rules = [...body.r, ...row.rules.filter((r) => r.effect === 'deny')]
      return {
        keyId: row.id,
        name: `${row.name} (token)`,
        rules,
        kind: 'token',
        rateEventsPerSec: row.rateEventsPerSec,
        rateBytesPerSec: row.rateBytesPerSec,
        quotas: row.quotas,
        expiresAt: row.expiresAt === null ? body.e : Math.min(body.e, Date.parse(row.expiresAt)),
      }
    }
    throw new AuthError('malformed credential: expected ql_… (API key) or qt_… (token)')
  }

  /**
   * Mints a token with `rules` (default: the key's own), each of which the key
   * must cover, and no more of them than `limits` allow: a token travels in
   * URLs, and is checked on every request.
   */
  mintToken(
    p: Principal,
    ttlSeconds: number,
    rules: AclRule[] | undefined,
    limits: { rules: number; bytes: number },
  ): { token: string; expiresAt: string } {
    if (p.kind !== 'key' || !p.keyId)
      throw new AuthError('tokens are minted with an API key, not with a token')
    const wanted = rules ?? p.rules.filter((r) => r.effect === 'allow')
    const bytes = Buffer.byteLength(JSON.stringify(wanted))
    if (wanted.length > limits.rules || bytes > limits.bytes) {
      throw new ValidationError([
        {
          path: 'rules',
          message: `a token carries at most ${limits.rules} rules and ${limits.bytes} bytes of them; these are ${wanted.length} rules, ${bytes} bytes${rules ? '' : " (the key's own)"}: give fewer`,
        },
      ])
    }
    wanted.forEach((r, i) => {
      if (r.effect !== 'allow') return
      for (const a of r.actions) {
        for (const t of r.topics) {
          if (!isAllowedPattern(p.rules, a, t)) {
            throw new ValidationError([
              { path: `rules.${i}`, message: `the key itself may not ${a} on '${t}'` },
            ])
          }
        }
      }
    })
    const expires = Date.now() + ttlSeconds * 1000
    const payload = Buffer.from(JSON.stringify({ k: p.keyId, r: wanted, e: expires })).toString('base64url')
    const sig = createHmac('sha256', this.tokenSecret!).update(payload).digest('base64url')
    return { token: `qt_${payload}.${sig}`, expiresAt: new Date(expires).toISOString() }
  }
}
