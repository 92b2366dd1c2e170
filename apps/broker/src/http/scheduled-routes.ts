import { schedulePublishSchema, topicNameSchema } from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { Services } from '../services'
import { parse } from './parse'
import { type TopicParams, topicName } from './topics-routes'

const listQuery = z.strictObject({ topic: topicNameSchema.optional() })
const idParams = z.object({ id: z.string().min(1).max(256) })

export function scheduledRoutes(app: FastifyInstance, s: Services): void {
  app.post<{ Params: TopicParams }>('/v1/topics/:topic/scheduled', async (req, reply) => {
    const scheduled = await s.scheduler.schedule(
      topicName(req.params),
      parse(schedulePublishSchema, req.body),
    )
    return reply
      .status(201)
      .send({ id: scheduled.id, topic: scheduled.topic, deliverAt: scheduled.deliverAt })
  })
  app.get('/v1/scheduled', async (req) => ({
    scheduled: await s.scheduler.list(parse(listQuery, req.query).topic),
  }))
  app.delete('/v1/scheduled/:id', async (req, reply) => {
    await s.scheduler.cancel(parse(idParams, req.params).id)
    return reply.status(204).send()
  })
}
