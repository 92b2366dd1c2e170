import { timingSafeEqual } from 'node:crypto'
import { AuthError, ForbiddenError } from '@questlog/protocol'
import type { Services } from '../services'
import { isSuperuser } from './principal'

/**
 * Which series a `/metrics` scrape gets. Per-topic and per-subscription series name tenants'
 * topics and subscriptions, so they need the metrics token or an admin key. Without a token
 * configured, anyone else gets the process and broker-wide series (scrapers need no setup);
 * with one, Prometheus scrapes with it and everyone else is refused.
 */
export async function metricsAccess(
  s: Services,
  authorization: string | undefined,
): Promise<'full' | 'public'> {
  if (s.config.auth === 'off') return 'full'
  const credential = authorization?.startsWith('Bearer ') ? authorization.slice(7).trim() : undefined
  const token = s.config.metricsToken
  if (token !== undefined && credential !== undefined && sameSecret(credential, token)) return 'full'
  if (credential === undefined) {
    if (token === undefined) return 'public'
    throw new AuthError('/metrics needs the metrics token or an admin key: Authorization: Bearer <it>')
  }
  const principal = await s.keys.authenticate(credential)
  if (isSuperuser(principal)) return 'full'
  if (token === undefined) return 'public'
  throw new ForbiddenError(`key '${principal.name}' is not an administrator`)
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
