import { z } from 'zod'

/** The console's configuration; `process.env` is read here and nowhere else. */
const envSchema = z.object({
  /** Where the broker answers; the console proxies its tRPC API from here. */
  QUESTLOG_BROKER_URL: z.url().default('http://127.0.0.1:4600'),
  /** Port of the console itself. */
  PORT: z.coerce.number().int().min(1).max(65535).default(4601),
  /** Interface the console listens on. */
  QUESTLOG_CONSOLE_HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * Encrypts and signs the session cookie (which holds the operator's admin key). When absent, the
   * console generates one at start: sessions then end whenever the console restarts, and several
   * console instances behind one address do not share them, so set it for anything but one local console.
   */
  QUESTLOG_CONSOLE_SECRET: z
    .string()
    .min(32, 'use at least 32 characters (openssl rand -base64 32)')
    .optional(),
  /**
   * Local development only: an admin key the console uses for everyone, with no login page. Anyone
   * who can open the console then administers the broker, so never set it on a shared console.
   */
  QUESTLOG_CONSOLE_KEY: z.string().min(1).optional(),
})

export type ConsoleEnv = z.infer<typeof envSchema>

export function readEnv(env: NodeJS.ProcessEnv = process.env): ConsoleEnv {
  const parsed = envSchema.safeParse({
    QUESTLOG_BROKER_URL: env.QUESTLOG_BROKER_URL || undefined,
    PORT: env.PORT || undefined,
    QUESTLOG_CONSOLE_HOST: env.QUESTLOG_CONSOLE_HOST || undefined,
    QUESTLOG_CONSOLE_SECRET: env.QUESTLOG_CONSOLE_SECRET || undefined,
    QUESTLOG_CONSOLE_KEY: env.QUESTLOG_CONSOLE_KEY || undefined,
  })
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`)
    throw new Error(`invalid console configuration:\n${lines.join('\n')}`)
  }
  return parsed.data
}
