import { createTopicSchema, topicNameSchema, updateTopicSchema } from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import type { Services } from '../services'
import { toTopicInfo } from '../topics/topic-service'
import { parse } from './parse'

export interface TopicParams {
  topic: string
}

export function topicName(params: TopicParams): string {
  return parse(topicNameSchema, decodeURIComponent(params.topic), 'topic')
}

export function topicsRoutes(app: FastifyInstance, s: Services): void {
  app.post('/v1/topics', async (req, reply) => {
    const input = parse(createTopicSchema, req.body)
    const topic = await s.topics.create(input)
    return reply.status(201).send(await s.topics.describe(topic.name))
  })

  app.get('/v1/topics', async () => ({ topics: (await s.topics.list()).map(toTopicInfo) }))

  app.get<{ Params: TopicParams }>('/v1/topics/:topic', async (req) =>
    s.topics.describe(topicName(req.params)),
  )

  app.patch<{ Params: TopicParams }>('/v1/topics/:topic', async (req) => {
    const name = topicName(req.params)
    await s.topics.update(name, parse(updateTopicSchema, req.body))
    return s.topics.describe(name)
  })

  app.delete<{ Params: TopicParams }>('/v1/topics/:topic', async (req, reply) => {
    await s.topics.delete(topicName(req.params))
    return reply.status(204).send()
  })
}
