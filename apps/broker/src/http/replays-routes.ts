import { createReplaySchema, isAllowed } from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requirePattern, requireTopic } from '../auth/principal'
import type { Services } from '../services'
import { parse } from './parse'

const idParam = z.object({ id: z.string().uuid('not a replay job id') })

/** Replays re-deliver a topic's history: admin on the source, and the right to write into the target. */
export function replaysRoutes(app: FastifyInstance, s: Services): void {
  app.post('/v1/replays', async (req, reply) => {
    const spec = parse(createReplaySchema, req.body)
    requireTopic(req.principal, 'admin', spec.topic)
    if ('topic' in spec.target) requireTopic(req.principal, 'publish', spec.target.topic)
    else {
      const sub = await s.delivery.subs.find(spec.target.subscription)
      requirePattern(req.principal, 'admin', sub?.topicPattern ?? spec.topic)
    }
    return reply.status(201).send(await s.replays.create(spec))
  })
  app.get('/v1/replays', async (req) => ({
    replays: (await s.replays.list()).filter((j) => isAllowed(req.principal.rules, 'admin', j.topic)),
  }))
  app.get('/v1/replays/:id', async (req) => {
    const job = await s.replays.get(parse(idParam, req.params).id)
    requireTopic(req.principal, 'admin', job.topic)
    return job
  })
  app.post('/v1/replays/:id/cancel', async (req) => {
    const { id } = parse(idParam, req.params)
    requireTopic(req.principal, 'admin', (await s.replays.get(id)).topic)
    return s.replays.cancel(id)
  })
}
