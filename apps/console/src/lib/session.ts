import { randomBytes } from 'node:crypto'
import { cookies, headers } from 'next/headers'
import { readEnv } from '@/env'
import { type SessionData, seal, unseal } from './session-seal'

export const SESSION_COOKIE = 'questlog_session'
const SESSION_MS = 12 * 60 * 60 * 1000

// Kept on globalThis: Next bundles route handlers, pages and server actions separately, and each
// bundle would otherwise draw its own secret.
const GENERATED = Symbol.for('questlog.console.generated-secret')

/** QUESTLOG_CONSOLE_SECRET, or a secret drawn once per console process when it is not set (see env.ts). */
function secret(): string | Buffer {
  const configured = readEnv().QUESTLOG_CONSOLE_SECRET
  if (configured) return configured
  const g = globalThis as { [GENERATED]?: Buffer }
  g[GENERATED] ??= randomBytes(32)
  return g[GENERATED]
}

export interface Session extends Omit<SessionData, 'exp'> {
  /** True when the key comes from QUESTLOG_CONSOLE_KEY rather than a login. */
  configured: boolean
}

/** The signed-in operator, from the session cookie or QUESTLOG_CONSOLE_KEY; null when nobody is. */
export async function currentSession(): Promise<Session | null> {
  const data = unseal((await cookies()).get(SESSION_COOKIE)?.value, secret())
  if (data) return { key: data.key, keyId: data.keyId, name: data.name, configured: false }
  const key = readEnv().QUESTLOG_CONSOLE_KEY
  if (key) return { key, keyId: keyIdOf(key), name: 'QUESTLOG_CONSOLE_KEY', configured: true }
  return null
}

export async function startSession(s: Omit<SessionData, 'exp'>): Promise<void> {
  const exp = Date.now() + SESSION_MS
  // behind a TLS proxy the cookie must only travel over HTTPS; on plain local HTTP it could not be set at all
  const https = (await headers()).get('x-forwarded-proto') === 'https'
  ;(await cookies()).set(SESSION_COOKIE, seal({ ...s, exp }, secret()), {
    httpOnly: true,
    sameSite: 'strict',
    secure: https,
    path: '/',
    maxAge: SESSION_MS / 1000,
  })
}

export async function endSession(): Promise<void> {
  ;(await cookies()).delete(SESSION_COOKIE)
}

/** `ql_<id>_<secret>` → id; the id alone is no secret and names the key in lists and the audit log. */
export function keyIdOf(key: string): string {
  return /^ql_([A-Za-z0-9]+)_/.exec(key)?.[1] ?? 'unknown'
}
