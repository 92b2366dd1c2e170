import { registerSchemaSchema } from '@questlog/protocol'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { canSee, requireTopic, requireVisible } from '../auth/principal'
import { parse } from '../parse'
import type { Services } from '../services'
import { type TopicParams, topicName } from './topics-routes'

const versionParam = z.coerce.number({ error: 'a schema version number' }).int().min(1)

export function schemasRoutes(app: FastifyInstance, s: Services): void {
  /** Schemas are readable by anyone who may use the topic. */
  const visibleTopic = async (req: FastifyRequest<{ Params: TopicParams }>) => {
    const name = topicName(req.params)
    requireVisible(req.principal, name)
    return s.topics.get(name)
  }

  app.post<{ Params: TopicParams }>('/v1/topics/:topic/schemas', async (req, reply) => {
    requireTopic(req.principal, 'admin', topicName(req.params))
    const topic = await s.topics.get(topicName(req.params))
    const body = parse(registerSchemaSchema, req.body)
    return reply.status(201).send(await s.schemas.register(topic, body.schema, body.compatibility))
  })
  app.get<{ Params: TopicParams }>('/v1/topics/:topic/schemas', async (req) => ({
    schemas: await s.schemas.list(await visibleTopic(req)),
  }))
  app.get<{ Params: TopicParams & { version: string } }>('/v1/topics/:topic/schemas/:version', async (req) =>
    s.schemas.get(await visibleTopic(req), parse(versionParam, req.params.version, 'version')),
  )
}
