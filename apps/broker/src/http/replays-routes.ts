import { createReplaySchema } from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { Services } from '../services'
import { parse } from './parse'

const idParam = z.object({ id: z.string().uuid('not a replay job id') })

export function replaysRoutes(app: FastifyInstance, s: Services): void {
  app.post('/v1/replays', async (req, reply) =>
    reply.status(201).send(await s.replays.create(parse(createReplaySchema, req.body))),
  )
  app.get('/v1/replays', async () => ({ replays: await s.replays.list() }))
  app.get('/v1/replays/:id', async (req) => s.replays.get(parse(idParam, req.params).id))
  app.post('/v1/replays/:id/cancel', async (req) => s.replays.cancel(parse(idParam, req.params).id))
}
