import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { z } from 'zod'
import { databaseUrlSchema } from './storage/database-url'

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
  /** Origins allowed to open WebSockets (browser games); empty allows any. */
  allowedOrigins: z
    .union([
      z.array(z.string()),
      z.string().transform((t) =>
        t
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean),
      ),
    ])
    .default([]),
  /** An SSE reader that takes nothing for this long is told it is too slow and disconnected (it resumes with Last-Event-ID). */
  slowConsumerMs: z.coerce.number().int().min(100).default(30_000),
  /** Frames a WebSocket client may send per second (a second's burst allowed). */
  maxFramesPerSecond: z.coerce.number().int().min(1).default(20_000),
  /** Subscriptions one WebSocket connection may hold. */
  maxSubscriptionsPerConnection: z.coerce.number().int().min(1).default(100),
  /** How often per-subscription gauges (lag, pending, dead letters) are refreshed. */
  statsIntervalMs: z.coerce.number().int().min(100).default(5000),
  /**
   * Longest a database call on the publish and delivery paths may take: the server cancels a write
   * statement past it, and a write connection that answers nothing for 2 s more is replaced.
   */
  dbDeadlineMs: z.coerce.number().int().min(200).max(600_000).default(10_000),
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
  softQueueEvents: 'QUESTLOG_SOFT_QUEUE_EVENTS',
  hardQueueEvents: 'QUESTLOG_HARD_QUEUE_EVENTS',
  tlsCert: 'QUESTLOG_TLS_CERT',
  tlsKey: 'QUESTLOG_TLS_KEY',
  statsIntervalMs: 'QUESTLOG_STATS_INTERVAL_MS',
  slowConsumerMs: 'QUESTLOG_SLOW_CONSUMER_MS',
  maxFramesPerSecond: 'QUESTLOG_MAX_FRAMES_PER_SECOND',
  maxSubscriptionsPerConnection: 'QUESTLOG_MAX_SUBSCRIPTIONS_PER_CONNECTION',
  encryptionKeys: 'QUESTLOG_ENCRYPTION_KEYS',
  auth: 'QUESTLOG_AUTH',
  adminKey: 'QUESTLOG_ADMIN_KEY',
  allowedOrigins: 'QUESTLOG_ALLOWED_ORIGINS',
  activeEncryptionKey: 'QUESTLOG_ACTIVE_ENCRYPTION_KEY',
  dbDeadlineMs: 'QUESTLOG_DB_DEADLINE_MS',
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
      const name = ENV_NAMES[key as keyof BrokerConfig]
      return `  ${key}${name ? ` (${name})` : ''}: ${i.message}`
    })
    throw new Error(`invalid configuration:\n${lines.join('\n')}`)
  }
  if ((parsed.data.tlsCert === undefined) !== (parsed.data.tlsKey === undefined)) {
    throw new Error(
      'invalid configuration:\n  tlsCert (QUESTLOG_TLS_CERT), tlsKey (QUESTLOG_TLS_KEY): give both or neither',
    )
  }
  const keys = Object.keys(parsed.data.encryptionKeys)
  if (parsed.data.activeEncryptionKey !== undefined && !keys.includes(parsed.data.activeEncryptionKey)) {
    throw new Error(
      `invalid configuration:\n  activeEncryptionKey (QUESTLOG_ACTIVE_ENCRYPTION_KEY): '${parsed.data.activeEncryptionKey}' is not among encryptionKeys`,
    )
  }
  return parsed.data
}
