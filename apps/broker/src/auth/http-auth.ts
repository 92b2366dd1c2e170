import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Services } from '../services'
import { claimedKeyId } from './key-store'
import { OPEN, type Principal } from './principal'
import { queryCredential } from './query-credential'

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal
  }
}

// probes and metrics stay reachable for load balancers and scrapers
const PUBLIC = new Set([
  '/health',
  '/health/live',
  '/health/ready',
  '/metrics',
  '/openapi.json',
  '/asyncapi.json',
])
const AUDITED = /^\/(v1\/(topics|subscriptions|replays|keys|scheduled)|trpc)\b/

function bearer(req: FastifyRequest, path: string): string | undefined {
  // EventSource cannot set headers: browsers pass their token in the query
  const query = req.query as Record<string, string | undefined> | undefined
  const fromQuery = query?.access_token
  if (query && fromQuery !== undefined) delete query.access_token
  // refused even beside a header: a key in a URL is a leak to stop, not to overlook
  const inQuery = fromQuery === undefined ? undefined : queryCredential(String(fromQuery), path)
  const header = req.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice(7).trim()
  return inQuery
}

/**
 * Authenticates every request before its handler runs (401 when the key or
 * token is missing, malformed, expired or revoked), and records admin actions
 * and refusals in the audit log (refusals summed up per source: see AuditLog).
 * Handlers check permissions on what they touch.
 */
export function installAuth(app: FastifyInstance, s: Services): void {
  app.decorateRequest('principal', null as unknown as Principal)
  app.addHook('onRequest', async (req) => {
    if (s.config.auth === 'off') {
      req.principal = OPEN
      return
    }
    const path = req.url.split('?')[0]!
    if (PUBLIC.has(path) || req.method === 'OPTIONS') {
      req.principal = OPEN
      return
    }
    req.principal = await s.keys.authenticate(bearer(req, path))
  })
  app.addHook('onResponse', async (req, reply) => {
    const path = req.url.split('?')[0]!
    const refused = reply.statusCode === 401 || reply.statusCode === 403
    const adminAction =
      req.method !== 'GET' &&
      AUDITED.test(path) &&
      !/\/(events|pull|ack|nak|term|cloudevents|scheduled)$/.test(path)
    if (refused) {
      // a flood of refusals must not become a flood of rows: the audit log sums them up per source
      await s.audit
        .refused({
          keyId: req.principal?.keyId ?? null,
          action: `${req.method} ${req.routeOptions.url ?? path}`,
          target: path,
          outcome: reply.statusCode === 401 ? 'unauthenticated' : 'forbidden',
          status: reply.statusCode,
          ip: req.ip,
          claimedKeyId: claimedKeyId(req.headers.authorization?.replace(/^Bearer\s+/, '')),
        })
        .catch((err) => req.log.warn({ err }, 'audit write failed'))
      return
    }
    if (!adminAction || reply.statusCode >= 400) return
    await s.audit
      .record({
        keyId: req.principal?.keyId ?? null,
        action: `${req.method} ${req.routeOptions.url ?? path}`,
        target: path,
        outcome: 'ok',
        details: { status: reply.statusCode, ip: req.ip },
      })
      .catch((err) => req.log.warn({ err }, 'audit write failed'))
  })
}
