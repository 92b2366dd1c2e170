import {
  type Action,
  ackRequestSchema,
  createSubscriptionSchema,
  nakRequestSchema,
  pullRequestSchema,
  redriveRequestSchema,
  resetRequestSchema,
  subscriptionNameSchema,
  termRequestSchema,
} from '@questlog/protocol'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { listsSubscription, requireNewSubscription, usableSubscription } from '../auth/consumer-access'
import { canSee, requireTopic } from '../auth/principal'
import { type EventLookup, eventStatus } from '../delivery/event-status'
import { deadLetterViews, deliveriesJson, reportView, subscriptionView } from '../delivery/views'
import { parse } from '../parse'
import type { Services } from '../services'

interface Params {
  name: string
}

const name = (p: Params) => parse(subscriptionNameSchema, decodeURIComponent(p.name), 'name')
const deadLetterQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  all: z.enum(['true', 'false']).default('false'),
})
const eventLookupQuery = z.strictObject({
  /** The CloudEvent's `source`; without it, as `/v1/events/{id}`. */
  source: z.string().min(1).max(512).optional(),
  id: z.string().min(1).max(256),
})

export function subscriptionsRoutes(app: FastifyInstance, s: Services): void {
  const d = s.delivery
  const subscription = (req: FastifyRequest<{ Params: Params }>, action: Action) =>
    usableSubscription(req.principal, d.subs, name(req.params), action)

  app.post('/v1/subscriptions', async (req, reply) => {
    const input = parse(createSubscriptionSchema, req.body)
    requireNewSubscription(req.principal, input)
    const sub = await d.create(input, s.quotas.owner(req.principal))
    if (sub.webhook) await s.webhooks.sync()
    return reply.status(201).send(reportView(await d.report(sub.name)))
  })
  app.get<{ Params: Params }>('/v1/subscriptions/:name/webhook', async (req) => {
    const sub = await subscription(req, 'admin')
    const q = parse(
      z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
      req.query,
    )
    return {
      webhook: sub.webhook,
      state: s.webhooks.state(sub.name),
      attempts: await s.webhooks.attempts(sub, q.limit),
    }
  })
  app.get('/v1/subscriptions', async (req) => ({
    subscriptions: (await d.subs.list())
      .filter((x) => listsSubscription(req.principal, x))
      .map(subscriptionView),
  }))
  app.get<{ Params: Params }>('/v1/subscriptions/:name', async (req) => {
    await subscription(req, 'subscribe')
    return reportView(await d.report(name(req.params)))
  })
  app.delete<{ Params: Params }>('/v1/subscriptions/:name', async (req, reply) => {
    await subscription(req, 'admin')
    await d.delete(name(req.params))
    return reply.status(204).send()
  })
  app.post<{ Params: Params }>('/v1/subscriptions/:name/pause', async (req) => {
    await subscription(req, 'admin')
    return subscriptionView(await d.pause(name(req.params), true))
  })
  app.post<{ Params: Params }>('/v1/subscriptions/:name/resume', async (req) => {
    await subscription(req, 'admin')
    return subscriptionView(await d.pause(name(req.params), false))
  })
  app.post<{ Params: Params }>('/v1/subscriptions/:name/reset', async (req) => {
    await subscription(req, 'admin')
    const n = name(req.params)
    await d.reset(n, parse(resetRequestSchema, req.body).to)
    return reportView(await d.report(n))
  })

  app.post<{ Params: Params }>('/v1/subscriptions/:name/pull', async (req, reply) => {
    await subscription(req, 'subscribe')
    const n = name(req.params)
    const body = parse(pullRequestSchema, req.body ?? {})
    const abort = new AbortController()
    reply.raw.on('close', () => abort.abort())
    // an answer is held whole until the caller reads it: its size is capped as well as its count
    const list = await d.pull(n, body.member, body.max, body.waitMs, abort.signal, s.config.maxReadBytes)
    return reply.type('application/json; charset=utf-8').send(deliveriesJson(list))
  })
  app.post<{ Params: Params }>('/v1/subscriptions/:name/ack', async (req) => {
    await subscription(req, 'subscribe')
    return { acked: await d.ack(name(req.params), parse(ackRequestSchema, req.body).tokens) }
  })
  app.post<{ Params: Params }>('/v1/subscriptions/:name/nak', async (req) => {
    await subscription(req, 'subscribe')
    const body = parse(nakRequestSchema, req.body)
    return d.nak(name(req.params), body.token, body.delayMs)
  })
  app.post<{ Params: Params }>('/v1/subscriptions/:name/term', async (req) => {
    await subscription(req, 'subscribe')
    const body = parse(termRequestSchema, req.body)
    await d.term(name(req.params), body.token, body.reason)
    return { terminated: true }
  })

  app.get<{ Params: Params }>('/v1/subscriptions/:name/dead-letters', async (req) => {
    const sub = await subscription(req, 'subscribe')
    const q = parse(deadLetterQuery, req.query)
    const rows = await d.deadLetters.list(sub, { limit: q.limit, includeRedriven: q.all === 'true' })
    const topics = new Map((await s.topics.list()).map((t) => [t.id, t.name]))
    return { deadLetters: await deadLetterViews(s.sql, rows, topics) }
  })
  app.post<{ Params: Params }>('/v1/subscriptions/:name/redrive', async (req) => {
    const sub = await subscription(req, 'admin')
    const body = parse(redriveRequestSchema, req.body)
    return { redriven: await d.deadLetters.redrive(sub, 'all' in body ? 'all' : body.ids) }
  })
}

export function eventStatusRoute(app: FastifyInstance, s: Services): void {
  const status = async (req: FastifyRequest, lookup: EventLookup) => {
    const p = req.principal
    const found = await eventStatus(s.sql, s.delivery.subs, lookup, {
      topic: (topic) => canSee(p, topic),
      subscription: (sub) => listsSubscription(p, sub),
    })
    requireTopic(p, 'subscribe', found.topic)
    return found
  }
  // by CloudEvents' source + id; before `/:id`, which it would otherwise read as the id 'status'
  app.get('/v1/events/status', async (req) => status(req, parse(eventLookupQuery, req.query)))
  app.get('/v1/events/:id', async (req) => {
    const { id } = parse(z.object({ id: z.string().min(1).max(256) }), req.params)
    return status(req, { id })
  })
}
