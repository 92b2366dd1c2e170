import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { z } from 'zod'
import { allowEntryError } from './delivery/outbound-guard'
import { databaseUrlSchema } from './storage/database-url'

/** `*`, `null`, or an origin exactly as a browser sends it in `Origin`. */
function isOriginEntry(o: string): boolean {
  if (o === '*' || o === 'null') return true
  try {
    return new URL(o).origin === o
  } catch {
    return false
  }
}

/** A list setting: an array in the file, comma-separated in the environment; empty by default. */
function listSetting(entry: z.ZodType<string, string>) {
  const fromText = z.string().transform((t) =>
    t
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  )
  return z
    .union([z.array(z.string()), fromText])
    .pipe(z.array(entry))
    .default([])
}

/** The broker's whole configuration; `process.env` is read here and nowhere else. */
export const brokerConfigSchema = z.strictObject({
  /** HTTP port; 0 picks a free one. */
  port: z.coerce.number().int().min(0).max(65535).default(4600),
  host: z.string().default('127.0.0.1'),
  /**
   * PostgreSQL URL; when absent the broker runs an embedded PostgreSQL in `dataDir`. Several hosts
   * (`postgres://u@h1:5432,h2:5432/db`) name a primary and its standbys: the broker finds the writable one.
   */
  databaseUrl: databaseUrlSchema.optional(),
  /** Folder of the embedded PostgreSQL's data. */
  // npm runs workspace scripts inside the workspace: INIT_CWD is where the user ran npm, so
  // `npm run broker` from the repository keeps its data in the repository's .questlog
  dataDir: z.string().default(path.join(process.env.INIT_CWD ?? '.', '.questlog', 'pg')),
  /** Connections in the broker's PostgreSQL pool. */
  poolSize: z.coerce.number().int().min(2).max(200).default(16),
  /** Most events one group-commit transaction writes. */
  maxBatchEvents: z.coerce.number().int().min(1).max(100_000).default(2000),
  /** Largest request body, in bytes. */
  maxBodyBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .default(16 * 1024 * 1024),
  /** How often retention and segment upkeep run. */
  retentionIntervalMs: z.coerce.number().int().min(100).default(30_000),
  /** How often compaction looks at compacted topics' sealed segments. */
  compactionIntervalMs: z.coerce.number().int().min(100).default(30_000),
  /** A sealed segment is rewritten once at least this share of its events is superseded or expired (0: any). */
  compactionMinDirtyRatio: z.coerce.number().min(0).max(1).default(0.1),
  /**
   * PostgreSQL URL of an application database holding a Questlog outbox table (the Node SDK's
   * `publishInTransaction`, table `questlog_outbox`): the broker relays its committed rows into the
   * log, in commit order, and prunes them.
   */
  outboxDatabaseUrl: databaseUrlSchema.optional(),
  /** Events waiting in one partition's write queue before publishers are told to slow down. */
  softQueueEvents: z.coerce.number().int().min(1).default(20_000),
  /** Events waiting in one partition's write queue before publishes are refused with 429. */
  hardQueueEvents: z.coerce.number().int().min(1).default(100_000),
  /** PEM certificate file: with `tlsKey`, the broker serves HTTPS and WSS only. */
  tlsCert: z.string().min(1).optional(),
  /** PEM private key file of `tlsCert`. */
  tlsKey: z.string().min(1).optional(),
  /**
   * Master keys for payload encryption at rest, by id: base64 of 32 random bytes
   * (`openssl rand -base64 32`). Keep old ids configured after a rotation: events sealed with them stay readable.
   */
  encryptionKeys: z
    .union([
      z.record(z.string().regex(/^[A-Za-z0-9_-]{1,32}$/), z.string()),
      // from the environment: "k1:base64,k2:base64"
      z.string().transform((text) =>
        Object.fromEntries(
          text
            .split(',')
            .filter(Boolean)
            .map((pair) => {
              const i = pair.indexOf(':')
              return [pair.slice(0, i).trim(), pair.slice(i + 1).trim()]
            }),
        ),
      ),
    ])
    .pipe(
      z.record(
        z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'key ids are 1-32 letters, digits, _ or -'),
        z
          .string()
          .refine((k) => Buffer.from(k, 'base64').length === 32, 'a key is base64 of exactly 32 bytes'),
      ),
    )
    .default({}),
  /** The master key id that seals new events; the first configured one when absent. */
  activeEncryptionKey: z.string().optional(),
  /** `off` turns authentication off for local development (the broker says so loudly at start). */
  auth: z.enum(['on', 'off']).default('on'),
  /** An admin API key to create at start (`ql_<12>_<43>`); otherwise the first start prints a new one. */
  adminKey: z.string().optional(),
  /**
   * Browser origins (`https://game.example`) that may call the broker: CORS on HTTP and SSE, and
   * WebSocket handshakes. Empty allows none; `*` allows any but `null`, which only `null` allows.
   */
  allowedOrigins: listSetting(
    z
      .string()
      .refine(
        isOriginEntry,
        'an origin is scheme://host[:port] with no path or trailing slash (or * for any, null for sandboxed pages)',
      ),
  ),
  /**
   * Webhook targets admitted although they are inward (loopback, private, link-local…): CIDRs
   * (`10.1.0.0/16`), addresses or host names; empty refuses every inward target.
   */
  webhookAllow: listSetting(
    z.string().superRefine((entry, ctx) => {
      const problem = allowEntryError(entry)
      if (problem) ctx.addIssue({ code: 'custom', message: problem })
    }),
  ),
  /** A bearer token that lets a scraper read every series of /metrics; when set, /metrics needs it or an admin key. */
  metricsToken: z.string().min(16, 'use at least 16 characters (openssl rand -base64 32)').optional(),
  /** Audit rows older than this many days are deleted in the background; 0 keeps them forever. */
  auditRetentionDays: z.coerce.number().min(0).default(90),
  /** An SSE or WebSocket reader that takes nothing for this long is told it is too slow and disconnected (it resumes where it was). */
  slowConsumerMs: z.coerce.number().int().min(100).default(30_000),
  /** Payload bytes one read hands a reader at once (a catch-up page, a WebSocket frame, a pull's answer); one event always goes. */
  maxReadBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  /** Frames a WebSocket client may send per second (a second's burst allowed). */
  maxFramesPerSecond: z.coerce.number().int().min(1).default(20_000),
  /** Subscriptions one WebSocket connection may hold. */
  maxSubscriptionsPerConnection: z.coerce.number().int().min(1).default(100),
  /** A presence member leaves this long after its connection was last heard from, unless it enters with its own `ttlMs`. */
  presenceTtlMs: z.coerce.number().int().min(1000).max(300_000).default(15_000),
  /** Most members of one presence channel (across the cluster, as this broker sees it). */
  presenceMaxMembers: z.coerce.number().int().min(1).default(20_000),
  /** Most presence members one WebSocket connection may hold, over all channels. */
  presenceMaxPerConnection: z.coerce.number().int().min(1).default(1000),
  /** Most bytes of a presence member's info, as JSON. */
  presenceMaxInfoBytes: z.coerce.number().int().min(2).max(65_536).default(2048),
  /** Presence changes are gathered this long before they go to a watcher, coalesced, in one frame. */
  presenceFlushMs: z.coerce.number().int().min(1).max(10_000).default(50),
  /** How often per-subscription gauges (lag, pending, dead letters) are refreshed. */
  statsIntervalMs: z.coerce.number().int().min(100).default(5000),
  /** Default quotas of a key (a key may be given its own; operators' keys have none): topics it created. */
  quotaTopics: z.coerce.number().int().min(0).default(100),
  /** Partitions of the topics a key created, together. */
  quotaPartitions: z.coerce.number().int().min(0).default(1000),
  /** Subscriptions a key created. */
  quotaSubscriptions: z.coerce.number().int().min(0).default(100),
  /** Server-Sent Event streams a key holds open at once, on this broker. */
  quotaStreams: z.coerce.number().int().min(0).default(100),
  /** WebSocket connections a key holds open at once, on this broker. */
  quotaConnections: z.coerce.number().int().min(0).default(100),
  /** Publishes of a key waiting for their confirmations at once, on this broker. */
  quotaConfirmations: z.coerce.number().int().min(0).default(100),
  /** Most rules a minted browser token may carry. */
  maxTokenRules: z.coerce.number().int().min(1).max(100).default(20),
  /** Largest a minted token's rules may be, as JSON bytes (a token travels in URLs). */
  maxTokenBytes: z.coerce.number().int().min(64).max(65_536).default(2048),
  /**
   * Longest a database call on the publish and delivery paths may take: the server cancels a write
   * statement past it, and a write connection that answers nothing for 2 s more is replaced.
   */
  dbDeadlineMs: z.coerce.number().int().min(200).max(600_000).default(10_000),
  /**
   * How long an append on a shared write connection waits for its partition's lock before the
   * partition moves to a connection of its own (the lock is held elsewhere: the partitions sharing
   * the connection would wait behind it).
   */
  lockWaitMs: z.coerce.number().int().min(10).max(600_000).default(200),
  /** The URL clients and other brokers reach this broker at (behind NAT or a proxy); its listen URL when absent. */
  advertisedUrl: z.string().url().optional(),
  /** How often the broker writes its heartbeat to the registry and renews its leases. */
  heartbeatMs: z.coerce.number().int().min(50).default(1000),
  /** A broker whose last heartbeat is older than this (by the database's clock) is dead; its leases move. */
  brokerDeadAfterMs: z.coerce.number().int().min(200).default(5000),
  /**
   * `on` opens `PUT /v1/broker/health-offset` (administrators): figures added to the health this
   * broker reports, to make it look degraded in tests of the SDKs' routing. Off in production.
   */
  testKnobs: z.enum(['on', 'off']).default('off'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
})

export type BrokerConfig = z.infer<typeof brokerConfigSchema>
export type BrokerConfigInput = z.input<typeof brokerConfigSchema>

/** The environment variable of each setting. */
export const ENV_NAMES: Record<keyof BrokerConfig, string> = {
  port: 'PORT',
  host: 'HOST',
  databaseUrl: 'DATABASE_URL',
  dataDir: 'QUESTLOG_DATA_DIR',
  poolSize: 'QUESTLOG_POOL_SIZE',
  maxBatchEvents: 'QUESTLOG_MAX_BATCH_EVENTS',
  maxBodyBytes: 'QUESTLOG_MAX_BODY_BYTES',
  retentionIntervalMs: 'QUESTLOG_RETENTION_INTERVAL_MS',
  compactionIntervalMs: 'QUESTLOG_COMPACTION_INTERVAL_MS',
  compactionMinDirtyRatio: 'QUESTLOG_COMPACTION_MIN_DIRTY_RATIO',
  outboxDatabaseUrl: 'QUESTLOG_OUTBOX_DATABASE_URL',
  softQueueEvents: 'QUESTLOG_SOFT_QUEUE_EVENTS',
  hardQueueEvents: 'QUESTLOG_HARD_QUEUE_EVENTS',
  tlsCert: 'QUESTLOG_TLS_CERT',
  tlsKey: 'QUESTLOG_TLS_KEY',
  statsIntervalMs: 'QUESTLOG_STATS_INTERVAL_MS',
  slowConsumerMs: 'QUESTLOG_SLOW_CONSUMER_MS',
  maxReadBytes: 'QUESTLOG_MAX_READ_BYTES',
  maxFramesPerSecond: 'QUESTLOG_MAX_FRAMES_PER_SECOND',
  maxSubscriptionsPerConnection: 'QUESTLOG_MAX_SUBSCRIPTIONS_PER_CONNECTION',
  presenceTtlMs: 'QUESTLOG_PRESENCE_TTL_MS',
  presenceMaxMembers: 'QUESTLOG_PRESENCE_MAX_MEMBERS',
  presenceMaxPerConnection: 'QUESTLOG_PRESENCE_MAX_PER_CONNECTION',
  presenceMaxInfoBytes: 'QUESTLOG_PRESENCE_MAX_INFO_BYTES',
  presenceFlushMs: 'QUESTLOG_PRESENCE_FLUSH_MS',
  encryptionKeys: 'QUESTLOG_ENCRYPTION_KEYS',
  auth: 'QUESTLOG_AUTH',
  adminKey: 'QUESTLOG_ADMIN_KEY',
  allowedOrigins: 'QUESTLOG_ALLOWED_ORIGINS',
  webhookAllow: 'QUESTLOG_WEBHOOK_ALLOW',
  metricsToken: 'QUESTLOG_METRICS_TOKEN',
  auditRetentionDays: 'QUESTLOG_AUDIT_RETENTION_DAYS',
  activeEncryptionKey: 'QUESTLOG_ACTIVE_ENCRYPTION_KEY',
  quotaTopics: 'QUESTLOG_QUOTA_TOPICS',
  quotaPartitions: 'QUESTLOG_QUOTA_PARTITIONS',
  quotaSubscriptions: 'QUESTLOG_QUOTA_SUBSCRIPTIONS',
  quotaStreams: 'QUESTLOG_QUOTA_STREAMS',
  quotaConnections: 'QUESTLOG_QUOTA_CONNECTIONS',
  quotaConfirmations: 'QUESTLOG_QUOTA_CONFIRMATIONS',
  maxTokenRules: 'QUESTLOG_MAX_TOKEN_RULES',
  maxTokenBytes: 'QUESTLOG_MAX_TOKEN_BYTES',
  dbDeadlineMs: 'QUESTLOG_DB_DEADLINE_MS',
  lockWaitMs: 'QUESTLOG_LOCK_WAIT_MS',
  advertisedUrl: 'QUESTLOG_ADVERTISED_URL',
  heartbeatMs: 'QUESTLOG_HEARTBEAT_MS',
  brokerDeadAfterMs: 'QUESTLOG_BROKER_DEAD_AFTER_MS',
  testKnobs: 'QUESTLOG_TEST_KNOBS',
  logLevel: 'LOG_LEVEL',
}

/**
 * The configuration from an optional YAML file (`QUESTLOG_CONFIG`, keys as in
 * brokerConfigSchema) overlaid with environment variables. Anything invalid
 * stops start-up with a message naming the field.
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  let fromFile: Record<string, unknown> = {}
  const file = env.QUESTLOG_CONFIG
  if (file) {
    let doc: unknown
    try {
      // loaded only when a file is given
      const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml')
      doc = parse(readFileSync(file, 'utf8'))
    } catch (e) {
      throw new Error(`cannot read the configuration file ${file}: ${(e as Error).message}`)
    }
    if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
      throw new Error(`the configuration file ${file} must hold a mapping of settings`)
    }
    fromFile = (doc ?? {}) as Record<string, unknown>
  }
  const merged: Record<string, unknown> = { ...fromFile }
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const value = env[name]
    if (value !== undefined && value !== '') merged[key] = value
  }
  const parsed = brokerConfigSchema.safeParse(merged)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(', ') : '')
      const name = ENV_NAMES[String(i.path[0] ?? key) as keyof BrokerConfig]
      return `  ${key}${name ? ` (${name})` : ''}: ${i.message}`
    })
    throw new Error(`invalid configuration:\n${lines.join('\n')}`)
  }
  if ((parsed.data.tlsCert === undefined) !== (parsed.data.tlsKey === undefined)) {
    throw new Error(
      'invalid configuration:\n  tlsCert (QUESTLOG_TLS_CERT), tlsKey (QUESTLOG_TLS_KEY): give both or neither',
    )
  }
  const timing = clusterTimingError(parsed.data)
  if (timing) throw new Error(`invalid configuration:\n  ${timing}`)
  const keys = Object.keys(parsed.data.encryptionKeys)
  if (parsed.data.activeEncryptionKey !== undefined && !keys.includes(parsed.data.activeEncryptionKey)) {
    throw new Error(
      `invalid configuration:\n  activeEncryptionKey (QUESTLOG_ACTIVE_ENCRYPTION_KEY): '${parsed.data.activeEncryptionKey}' is not among encryptionKeys`,
    )
  }
  return parsed.data
}

/** A broker must miss at least two heartbeats before it counts as dead, or a slow beat would kill it. */
export function clusterTimingError(
  c: Pick<BrokerConfig, 'heartbeatMs' | 'brokerDeadAfterMs'>,
): string | null {
  if (c.brokerDeadAfterMs >= 2 * c.heartbeatMs) return null
  return `brokerDeadAfterMs (QUESTLOG_BROKER_DEAD_AFTER_MS): ${c.brokerDeadAfterMs} ms is less than two heartbeats (QUESTLOG_HEARTBEAT_MS ${c.heartbeatMs} ms)`
}
