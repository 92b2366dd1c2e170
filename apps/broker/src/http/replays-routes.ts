import { createReplaySchema } from '@questlog/protocol'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { requireReplay, seesReplay } from '../auth/consumer-access'
import { replayNotFound } from '../delivery/replay-jobs'
import { parse } from '../parse'
import type { Services } from '../services'

const idParam = z.object({ id: z.string().uuid('not a replay job id') })

/** Replays re-deliver a topic's history: admin on the source, and the right to write into the target. */
export function replaysRoutes(app: FastifyInstance, s: Services): void {
  /** The job, if the caller may see it; another tenant's answers as a missing one. */
  const visibleJob = async (req: FastifyRequest) => {
    const { id } = parse(idParam, req.params)
    const job = await s.replays.get(id)
    if (!(await seesReplay(req.principal, s.delivery.subs, job))) throw replayNotFound(id)
    return job
  }

  app.post('/v1/replays', async (req, reply) => {
    const spec = parse(createReplaySchema, req.body)
    await requireReplay(req.principal, s.delivery.subs, spec)
    return reply.status(201).send(await s.replays.create(spec))
  })
  app.get('/v1/replays', async (req) => {
    const jobs = await s.replays.list()
    const seen = await Promise.all(jobs.map((j) => seesReplay(req.principal, s.delivery.subs, j)))
    return { replays: jobs.filter((_, i) => seen[i]) }
  })
  app.get('/v1/replays/:id', (req) => visibleJob(req))
  app.post('/v1/replays/:id/cancel', async (req) => s.replays.cancel((await visibleJob(req)).id))
}
