import { readQuerySchema } from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { publishRequest } from '../publish/publish-request'
import { envelopeJson } from '../read/envelope-json'
import { readPage } from '../read/reader'
import type { Services } from '../services'
import { parse } from './parse'
import { type TopicParams, topicName } from './topics-routes'

export function eventsRoutes(app: FastifyInstance, s: Services): void {
  app.post<{ Params: TopicParams }>('/v1/topics/:topic/events', async (req, reply) => {
    const name = topicName(req.params)
    const answer = await publishRequest(s, name, req.body, '/http')
    return reply.status(201).send(answer)
  })

  app.get<{ Params: TopicParams }>('/v1/topics/:topic/events', async (req, reply) => {
    const name = topicName(req.params)
    const query = parse(readQuerySchema, req.query)
    const topic = await s.topics.get(name)
    const page = await readPage(s.sql, topic, query)
    s.metrics.eventsOut.inc({ topic: name }, page.events.length)
    // built as text: payloads are spliced in without being parsed
    const events = page.events.map((e) => envelopeJson(name, e)).join(',')
    const next = page.next === null ? 'null' : `"${page.next}"`
    return reply
      .type('application/json; charset=utf-8')
      .send(`{"events":[${events}],"next":${next},"cursor":"${page.cursor}"}`)
  })
}
