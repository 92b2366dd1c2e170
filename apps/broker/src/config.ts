import { z } from 'zod'

/** The broker's whole configuration; `process.env` is read here and nowhere else. */
export const brokerConfigSchema = z.object({
  /** HTTP port; 0 picks a free one. */
  port: z.coerce.number().int().min(0).max(65535).default(4600),
  host: z.string().default('127.0.0.1'),
  /** PostgreSQL URL; when absent the broker runs an embedded PostgreSQL in `dataDir`. */
  databaseUrl: z.string().url().optional(),
  /** Folder of the embedded PostgreSQL's data. */
  dataDir: z.string().default('.questlog/pg'),
  /** Connections in the broker's PostgreSQL pool. */
  poolSize: z.coerce.number().int().min(2).max(200).default(16),
  /** Most events one group-commit transaction writes. */
  maxBatchEvents: z.coerce.number().int().min(1).max(100_000).default(5000),
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
  /** How often per-subscription gauges (lag, pending, dead letters) are refreshed. */
  statsIntervalMs: z.coerce.number().int().min(100).default(5000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
})

export type BrokerConfig = z.infer<typeof brokerConfigSchema>
export type BrokerConfigInput = z.input<typeof brokerConfigSchema>

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): BrokerConfig {
  const parsed = brokerConfigSchema.safeParse({
    port: env.PORT,
    host: env.HOST,
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.QUESTLOG_DATA_DIR,
    poolSize: env.QUESTLOG_POOL_SIZE,
    maxBatchEvents: env.QUESTLOG_MAX_BATCH_EVENTS,
    maxBodyBytes: env.QUESTLOG_MAX_BODY_BYTES,
    retentionIntervalMs: env.QUESTLOG_RETENTION_INTERVAL_MS,
    softQueueEvents: env.QUESTLOG_SOFT_QUEUE_EVENTS,
    hardQueueEvents: env.QUESTLOG_HARD_QUEUE_EVENTS,
    statsIntervalMs: env.QUESTLOG_STATS_INTERVAL_MS,
    logLevel: env.LOG_LEVEL,
  })
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`)
    throw new Error(`invalid configuration:\n${lines.join('\n')}`)
  }
  return parsed.data
}
