import {
  createTopicSchema,
  NotFoundError,
  topicNameSchema,
  updateTopicSchema,
  ValidationError,
} from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { canSee, requireTopic, requireVisible } from '../auth/principal'
import { parse } from '../parse'
import type { Services } from '../services'
import { toTopicInfo } from '../topics/topic-service'

export interface TopicParams {
  topic: string
}

export function topicName(params: TopicParams): string {
  return parse(topicNameSchema, decodeURIComponent(params.topic), 'topic')
}

export function topicsRoutes(app: FastifyInstance, s: Services): void {
  app.post('/v1/topics', async (req, reply) => {
    const input = parse(createTopicSchema, req.body)
    requireTopic(req.principal, 'admin', input.name)
    const topic = await s.topics.create(input, s.quotas.owner(req.principal))
    return reply.status(201).send(await s.topics.describe(topic.name))
  })

  app.get('/v1/topics', async (req) => ({
    topics: (await s.topics.list()).filter((t) => canSee(req.principal, t.name)).map(toTopicInfo),
  }))

  app.get<{ Params: TopicParams }>('/v1/topics/:topic', async (req) => {
    const name = topicName(req.params)
    requireVisible(req.principal, name)
    return s.topics.describe(name)
  })

  app.patch<{ Params: TopicParams }>('/v1/topics/:topic', async (req) => {
    const name = topicName(req.params)
    requireTopic(req.principal, 'admin', name)
    await s.topics.update(name, parse(updateTopicSchema, req.body), s.quotas.owner(req.principal))
    return s.topics.describe(name)
  })

  // crypto-shredding: the event key's data key goes, and with it every payload it sealed
  app.delete<{ Params: TopicParams & { key: string } }>('/v1/topics/:topic/keys/:key', async (req, reply) => {
    requireTopic(req.principal, 'admin', topicName(req.params))
    const topic = await s.topics.get(topicName(req.params))
    if (topic.encryption !== 'per-key') {
      throw new ValidationError([
        { path: 'topic', message: `topic '${topic.name}' does not encrypt per event key` },
      ])
    }
    const key = decodeURIComponent(req.params.key)
    if (!(await s.crypto.erase(topic.id, key)))
      throw new NotFoundError(`no data key for event key '${key}' in '${topic.name}'`)
    return reply.status(204).send()
  })

  app.delete<{ Params: TopicParams }>('/v1/topics/:topic', async (req, reply) => {
    requireTopic(req.principal, 'admin', topicName(req.params))
    await s.topics.delete(topicName(req.params))
    return reply.status(204).send()
  })
}
