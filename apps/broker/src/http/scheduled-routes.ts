import { isAllowed, schedulePublishSchema, topicNameSchema } from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { canSee, requireTopic } from '../auth/principal'
import { parse } from '../parse'
import { scheduledNotFound } from '../schedule/scheduler'
import type { Services } from '../services'
import { type TopicParams, topicName } from './topics-routes'

const listQuery = z.strictObject({ topic: topicNameSchema.optional() })
const idParams = z.object({ id: z.string().min(1).max(256) })

export function scheduledRoutes(app: FastifyInstance, s: Services): void {
  app.post<{ Params: TopicParams }>('/v1/topics/:topic/scheduled', async (req, reply) => {
    const name = topicName(req.params)
    const scheduled = await s.scheduler.schedule(name, parse(schedulePublishSchema, req.body), req.principal)
    return reply
      .status(201)
      .send({ id: scheduled.id, topic: scheduled.topic, deliverAt: scheduled.deliverAt })
  })
  app.get('/v1/scheduled', async (req) => {
    const all = await s.scheduler.list(parse(listQuery, req.query).topic)
    return { scheduled: all.filter((e) => isAllowed(req.principal.rules, 'publish', e.topic)) }
  })
  app.delete('/v1/scheduled/:id', async (req, reply) => {
    const { id } = parse(idParams, req.params)
    const topic = await s.scheduler.topicOf(id)
    if (topic !== undefined) {
      // another tenant's event answers as a missing one: its topic stays unknown
      if (!canSee(req.principal, topic)) throw scheduledNotFound(id)
      requireTopic(req.principal, 'publish', topic)
    }
    await s.scheduler.cancel(id)
    return reply.status(204).send()
  })
}
