import { registerSchemaSchema } from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { Services } from '../services'
import { parse } from './parse'
import { type TopicParams, topicName } from './topics-routes'

const versionParam = z.coerce.number({ error: 'a schema version number' }).int().min(1)

export function schemasRoutes(app: FastifyInstance, s: Services): void {
  app.post<{ Params: TopicParams }>('/v1/topics/:topic/schemas', async (req, reply) => {
    const topic = await s.topics.get(topicName(req.params))
    const body = parse(registerSchemaSchema, req.body)
    return reply.status(201).send(await s.schemas.register(topic, body.schema, body.compatibility))
  })
  app.get<{ Params: TopicParams }>('/v1/topics/:topic/schemas', async (req) => ({
    schemas: await s.schemas.list(await s.topics.get(topicName(req.params))),
  }))
  app.get<{ Params: TopicParams & { version: string } }>('/v1/topics/:topic/schemas/:version', async (req) =>
    s.schemas.get(
      await s.topics.get(topicName(req.params)),
      parse(versionParam, req.params.version, 'version'),
    ),
  )
}
