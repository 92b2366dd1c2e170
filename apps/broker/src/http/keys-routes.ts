import { createKeySchema, createTokenSchema } from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requireSuperuser } from '../auth/principal'
import { parse } from '../parse'
import type { Services } from '../services'

const auditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.coerce.number().int().min(1).optional(),
})

/** API keys and the audit log (administrators), and token minting (any key). */
export function keysRoutes(app: FastifyInstance, s: Services): void {
  app.post('/v1/keys', async (req, reply) => {
    requireSuperuser(req.principal)
    const { key, info } = await s.keys.create(parse(createKeySchema, req.body))
    // the secret is shown here, once
    return reply.status(201).send({ ...info, key })
  })
  app.get('/v1/keys', async (req) => {
    requireSuperuser(req.principal)
    return { keys: await s.keys.list() }
  })
  app.delete<{ Params: { id: string } }>('/v1/keys/:id', async (req, reply) => {
    requireSuperuser(req.principal)
    await s.keys.revoke(req.params.id)
    return reply.status(204).send()
  })
  app.post('/v1/tokens', async (req, reply) => {
    const body = parse(createTokenSchema, req.body ?? {})
    const limits = { rules: s.config.maxTokenRules, bytes: s.config.maxTokenBytes }
    return reply.status(201).send(s.keys.mintToken(req.principal, body.ttlSeconds, body.rules, limits))
  })
  app.get('/v1/audit', async (req) => {
    requireSuperuser(req.principal)
    const q = parse(auditQuery, req.query)
    return { entries: await s.audit.list(q.limit, q.before) }
  })
}
