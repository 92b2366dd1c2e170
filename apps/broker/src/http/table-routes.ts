import { CLOUDEVENT_MEDIA_TYPE, NotFoundError, snapshotQuerySchema } from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { requireTopic } from '../auth/principal'
import { parse } from '../parse'
import { acceptsCloudEvents, cloudEventJson } from '../read/cloudevent-json'
import { envelopeJson } from '../read/envelope-json'
import { isTombstone, latestOfKey, snapshotPage } from '../read/table-reader'
import type { Services } from '../services'
import { type TopicParams, topicName } from './topics-routes'

/** Compacted topics read as tables: the latest value of a key, and a whole snapshot. */
export function tableRoutes(app: FastifyInstance, s: Services): void {
  app.get<{ Params: TopicParams & { key: string } }>('/v1/topics/:topic/keys/:key', async (req, reply) => {
    const name = topicName(req.params)
    requireTopic(req.principal, 'subscribe', name)
    const topic = await s.topics.get(name)
    const key = decodeURIComponent(req.params.key)
    const event = await latestOfKey(s.sql, topic, key)
    // a tombstone is the key's removal: as absent as a key never written
    if (!event || isTombstone(event)) throw new NotFoundError(`key '${key}' has no value in '${name}'`)
    s.metrics.eventsOut.inc({ topic: name }, 1)
    if (acceptsCloudEvents(req.headers.accept, CLOUDEVENT_MEDIA_TYPE))
      return reply.type(`${CLOUDEVENT_MEDIA_TYPE}; charset=utf-8`).send(cloudEventJson(event))
    return reply.type('application/json; charset=utf-8').send(envelopeJson(name, event))
  })

  app.get<{ Params: TopicParams }>('/v1/topics/:topic/snapshot', async (req, reply) => {
    const name = topicName(req.params)
    requireTopic(req.principal, 'subscribe', name)
    const query = parse(snapshotQuerySchema, req.query)
    const topic = await s.topics.get(name)
    const page = await snapshotPage(s.sql, topic, { ...query, maxBytes: s.config.maxReadBytes })
    s.metrics.eventsOut.inc({ topic: name }, page.events.length)
    const events = page.events.map((e) => envelopeJson(name, e)).join(',')
    const next = page.page === null ? 'null' : `"${page.page}"`
    return reply
      .type('application/json; charset=utf-8')
      .send(`{"events":[${events}],"cursor":"${page.cursor}","page":${next}}`)
  })
}
