import {
  CLOUDEVENT_MEDIA_TYPE,
  CLOUDEVENTS_BATCH_MEDIA_TYPE,
  eventPositionSchema,
  NotFoundError,
  readQuerySchema,
} from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requireTopic } from '../auth/principal'
import { waitForAcks } from '../delivery/confirmations'
import { parse } from '../parse'
import { parsePublishBody } from '../publish/parse-body'
import { acceptsCloudEvents, cloudEventJson } from '../read/cloudevent-json'
import { envelopeJson } from '../read/envelope-json'
import { readPage } from '../read/reader'
import type { Services } from '../services'
import { readAt } from '../storage/event-store'
import { type TopicParams, topicName } from './topics-routes'

/** `?confirm=n`: answer only once n subscriptions have acked every event (publisher confirmations). */
const confirmQuery = z.strictObject({
  confirm: z.coerce.number().int().min(1).max(100).optional(),
  confirmTimeoutMs: z.coerce.number().int().min(1).max(300_000).default(10_000),
})

function publishedTypes(body: unknown, topic: string): string[] {
  const b = body as { events?: Array<{ type?: string }>; type?: string }
  return Array.isArray(b.events) ? b.events.map((e) => e.type ?? topic) : [b.type ?? topic]
}

export function eventsRoutes(app: FastifyInstance, s: Services): void {
  app.post<{ Params: TopicParams }>('/v1/topics/:topic/events', async (req, reply) => {
    const name = topicName(req.params)
    const { confirm, confirmTimeoutMs } = parse(confirmQuery, req.query)
    // held from the start: a publish past its key's quota of waits is refused before anything is stored
    const release = confirm === undefined ? undefined : await s.quotas.hold(req.principal, 'confirmations')
    try {
      const answer = await s.pipeline.publish({
        door: 'http',
        topic: name,
        principal: req.principal,
        ...parsePublishBody(req.body),
      })
      if (confirm === undefined) return reply.status(201).send(answer)
      const receipts = 'receipts' in answer ? answer.receipts : [answer]
      const types = publishedTypes(req.body, name)
      await waitForAcks(
        s.sql,
        s.delivery.subs,
        await s.topics.get(name),
        receipts.map((r, i) => ({
          partition: r.partition,
          offset: Number(r.offset),
          type: types[i] ?? name,
        })),
        confirm,
        confirmTimeoutMs,
      )
      return reply.status(201).send({ ...answer, confirmed: confirm })
    } finally {
      release?.()
    }
  })

  app.get<{ Params: TopicParams }>('/v1/topics/:topic/events', async (req, reply) => {
    const name = topicName(req.params)
    requireTopic(req.principal, 'subscribe', name)
    const query = parse(readQuerySchema, req.query)
    const topic = await s.topics.get(name)
    const page = await readPage(s.sql, topic, query)
    s.metrics.eventsOut.inc({ topic: name }, page.events.length)
    if (acceptsCloudEvents(req.headers.accept, CLOUDEVENTS_BATCH_MEDIA_TYPE)) {
      // a batch is a bare array: where the page ends travels in headers
      if (page.next !== null) void reply.header('questlog-next', page.next)
      return reply
        .header('questlog-cursor', page.cursor)
        .type(`${CLOUDEVENTS_BATCH_MEDIA_TYPE}; charset=utf-8`)
        .send(`[${page.events.map(cloudEventJson).join(',')}]`)
    }
    // built as text: payloads are spliced in without being parsed
    const events = page.events.map((e) => envelopeJson(name, e)).join(',')
    const next = page.next === null ? 'null' : `"${page.next}"`
    return reply
      .type('application/json; charset=utf-8')
      .send(`{"events":[${events}],"next":${next},"cursor":"${page.cursor}"}`)
  })

  app.get<{ Params: TopicParams & { partition: string; offset: string } }>(
    '/v1/topics/:topic/events/:partition/:offset',
    async (req, reply) => {
      const name = topicName(req.params)
      requireTopic(req.principal, 'subscribe', name)
      const { partition, offset } = parse(eventPositionSchema, {
        partition: req.params.partition,
        offset: req.params.offset,
      })
      const topic = await s.topics.get(name)
      const [event] =
        partition < topic.partitions ? await readAt(s.sql, topic.id, partition, [Number(offset)]) : []
      if (!event)
        throw new NotFoundError(`no event at offset ${offset} of partition ${partition} of '${name}'`)
      s.metrics.eventsOut.inc({ topic: name }, 1)
      if (acceptsCloudEvents(req.headers.accept, CLOUDEVENT_MEDIA_TYPE))
        return reply.type(`${CLOUDEVENT_MEDIA_TYPE}; charset=utf-8`).send(cloudEventJson(event))
      return reply.type('application/json; charset=utf-8').send(envelopeJson(name, event))
    },
  )
}
