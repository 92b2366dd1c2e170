import type { FastifyInstance } from 'fastify'
import { parseCloudEvents } from '../publish/parse-cloudevents'
import type { Services } from '../services'
import { type TopicParams, topicName } from './topics-routes'

/** CloudEvents 1.0 HTTP binding: binary, structured and batch content modes. */
export function cloudEventsRoute(app: FastifyInstance, s: Services): void {
  app.post<{ Params: TopicParams }>('/v1/topics/:topic/cloudevents', async (req, reply) => {
    const parsed = parseCloudEvents({
      contentType: req.headers['content-type'],
      headers: req.headers,
      body: req.body,
    })
    const answer = await s.pipeline.publish({
      door: 'cloudevents',
      topic: topicName(req.params),
      principal: req.principal,
      ...parsed,
    })
    return reply.status(201).send(answer)
  })
}
