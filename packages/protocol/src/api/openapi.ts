// The HTTP API as an OpenAPI 3.1 document, built from the same zod schemas the broker parses
// with, so the description follows the code. docs/api/ holds the generated files; the broker
// serves this document at GET /openapi.json; a broker test validates real responses against it.
import { z } from 'zod'
import { createKeySchema, createTokenSchema } from '../acl'
import { CLOUDEVENT_MEDIA_TYPE, CLOUDEVENTS_BATCH_MEDIA_TYPE, cloudEventSchema } from '../cloudevents'
import { envelopeSchema } from '../envelope'
import { ERROR_CODES } from '../errors'
import { presenceMembersSchema } from '../presence'
import {
  publishBatchResponseSchema,
  publishBatchSchema,
  publishEventSchema,
  publishResponseSchema,
  schedulePublishSchema,
} from '../publish'
import {
  ackRequestSchema,
  createReplaySchema,
  createSubscriptionSchema,
  nakRequestSchema,
  pullRequestSchema,
  redriveRequestSchema,
  resetRequestSchema,
  termRequestSchema,
} from '../subscription'
import { createTopicSchema, registerSchemaSchema, topicInfoSchema, updateTopicSchema } from '../topic'

type JsonSchema = Record<string, unknown>

/** A zod schema as JSON Schema 2020-12: requests as the broker takes them, responses as it sends them. */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  })
  return rest
}

export const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...Array<keyof typeof ERROR_CODES>]),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
})

export const readPageSchema = z.object({
  events: z.array(envelopeSchema),
  next: z.string(),
  cursor: z.string().optional(),
})

/** The schemas the document names under components.schemas. */
export const API_SCHEMAS = {
  Error: [errorBodySchema, 'output'],
  Envelope: [envelopeSchema, 'output'],
  CloudEvent: [cloudEventSchema, 'output'],
  ReadPage: [readPageSchema, 'output'],
  PublishEvent: [publishEventSchema, 'input'],
  PublishBatch: [publishBatchSchema, 'input'],
  PublishResponse: [publishResponseSchema, 'output'],
  PublishBatchResponse: [publishBatchResponseSchema, 'output'],
  CreateTopic: [createTopicSchema, 'input'],
  UpdateTopic: [updateTopicSchema, 'input'],
  TopicInfo: [topicInfoSchema, 'output'],
  PresenceMembers: [presenceMembersSchema, 'output'],
  RegisterSchema: [registerSchemaSchema, 'input'],
  SchedulePublish: [schedulePublishSchema, 'input'],
  CreateSubscription: [createSubscriptionSchema, 'input'],
  PullRequest: [pullRequestSchema, 'input'],
  AckRequest: [ackRequestSchema, 'input'],
  NakRequest: [nakRequestSchema, 'input'],
  TermRequest: [termRequestSchema, 'input'],
  ResetRequest: [resetRequestSchema, 'input'],
  RedriveRequest: [redriveRequestSchema, 'input'],
  CreateReplay: [createReplaySchema, 'input'],
  CreateKey: [createKeySchema, 'input'],
  CreateToken: [createTokenSchema, 'input'],
} as const satisfies Record<string, readonly [z.ZodType, 'input' | 'output']>

const ref = (name: keyof typeof API_SCHEMAS) => ({ $ref: `#/components/schemas/${name}` })
const json = (schema: JsonSchema) => ({ content: { 'application/json': { schema } } })
const anyObject = { type: 'object' }
const cloudEventsBatch = { type: 'array', items: ref('CloudEvent') }
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: 'error', ...json(ref('Error')) }]))

interface Op {
  summary: string
  body?: JsonSchema
  /** The answer; `alternatives`, by media type, are what an `Accept` header may ask for instead. */
  ok: [status: number, schema: JsonSchema | null, type?: string, alternatives?: Record<string, JsonSchema>]
  fails?: number[]
  query?: string[]
}

function operation(o: Op, pathParams: string[]) {
  const [status, schema, type, alternatives] = o.ok
  const parameters = [
    ...pathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
    ...(o.query ?? []).map((name) => ({ name, in: 'query', required: false, schema: { type: 'string' } })),
  ]
  return {
    summary: o.summary,
    ...(parameters.length > 0 && { parameters }),
    ...(o.body && { requestBody: { required: true, ...json(o.body) } }),
    responses: {
      [String(status)]: {
        description: o.summary,
        ...(schema && {
          content: Object.fromEntries([
            [type ?? 'application/json', { schema }],
            ...Object.entries(alternatives ?? {}).map(([t, alt]) => [t, { schema: alt }]),
          ]),
        }),
      },
      ...errors(...(o.fails ?? [400, 401, 403])),
    },
  }
}

/** Path → method → operation; `{name}` marks a path parameter. */
const ROUTES: Record<string, Partial<Record<'get' | 'post' | 'patch' | 'delete', Op>>> = {
  '/v1/topics': {
    post: {
      summary: 'create a topic',
      body: ref('CreateTopic'),
      ok: [201, ref('TopicInfo')],
      fails: [400, 401, 403, 409],
    },
    get: {
      summary: 'list topics',
      ok: [200, { type: 'object', properties: { topics: { type: 'array', items: ref('TopicInfo') } } }],
    },
  },
  '/v1/topics/{topic}': {
    get: {
      summary: 'describe a topic: settings, partitions and their offsets',
      ok: [200, ref('TopicInfo')],
      fails: [400, 401, 403, 404],
    },
    patch: {
      summary: 'configure a topic',
      body: ref('UpdateTopic'),
      ok: [200, ref('TopicInfo')],
      fails: [400, 401, 403, 404],
    },
    delete: { summary: 'delete a topic and its events', ok: [204, null], fails: [401, 403, 404] },
  },
  '/v1/topics/{topic}/events': {
    post: {
      summary: 'publish one event, or a batch ({events:[…]}) answered in request order',
      body: { oneOf: [ref('PublishEvent'), ref('PublishBatch')] },
      ok: [201, { oneOf: [ref('PublishResponse'), ref('PublishBatchResponse')] }],
      fails: [400, 401, 403, 404, 413, 429, 503],
    },
    get: {
      summary:
        'read a page by offset (partition, from, limit) or by time (since, until); with Accept: application/cloudevents-batch+json, the page as a CloudEvents batch (where it ends in the questlog-next and questlog-cursor headers)',
      query: ['partition', 'from', 'limit', 'since', 'until', 'cursor', 'type', 'key'],
      ok: [200, ref('ReadPage'), 'application/json', { [CLOUDEVENTS_BATCH_MEDIA_TYPE]: cloudEventsBatch }],
      fails: [400, 401, 403, 404],
    },
  },
  '/v1/topics/{topic}/events/{partition}/{offset}': {
    get: {
      summary: 'one stored event; with Accept: application/cloudevents+json, as a structured CloudEvent',
      ok: [200, ref('Envelope'), 'application/json', { [CLOUDEVENT_MEDIA_TYPE]: ref('CloudEvent') }],
      fails: [400, 401, 403, 404],
    },
  },
  '/v1/topics/{topic}/stream': {
    get: {
      summary: 'Server-Sent Events: each data line an envelope (see the AsyncAPI document)',
      query: ['from', 'partition', 'type', 'access_token', 'cursor'],
      ok: [200, { type: 'string' }, 'text/event-stream'],
      fails: [400, 401, 403, 404],
    },
  },
  '/v1/topics/{topic}/cloudevents': {
    post: {
      summary: 'publish CloudEvents 1.0 (binary, structured or batch mode)',
      ok: [200, anyObject],
      fails: [400, 401, 403, 404, 413],
    },
  },
  '/v1/topics/{topic}/schemas': {
    post: {
      summary: 'register the next payload schema version',
      body: ref('RegisterSchema'),
      ok: [201, anyObject],
      fails: [400, 401, 403, 404, 409],
    },
    get: { summary: 'registered schema versions', ok: [200, anyObject], fails: [401, 403, 404] },
  },
  '/v1/topics/{topic}/schemas/{version}': {
    get: { summary: 'one schema version', ok: [200, anyObject], fails: [400, 401, 403, 404] },
  },
  '/v1/topics/{topic}/scheduled': {
    post: {
      summary: 'schedule an event for later delivery',
      body: ref('SchedulePublish'),
      ok: [201, anyObject],
      fails: [400, 401, 403, 404],
    },
  },
  '/v1/scheduled': {
    get: { summary: 'scheduled events not yet delivered', query: ['topic'], ok: [200, anyObject] },
  },
  '/v1/scheduled/{id}': {
    delete: { summary: 'cancel a scheduled event', ok: [204, null], fails: [401, 403, 404] },
  },
  '/v1/subscriptions': {
    post: {
      summary: 'create a subscription (stream or queue)',
      body: ref('CreateSubscription'),
      ok: [201, anyObject],
      fails: [400, 401, 403, 409],
    },
    get: { summary: 'list subscriptions', ok: [200, anyObject] },
  },
  '/v1/subscriptions/{name}': {
    get: {
      summary: 'describe a subscription: members, lag, pending',
      ok: [200, anyObject],
      fails: [401, 403, 404],
    },
    delete: { summary: 'delete a subscription', ok: [204, null], fails: [401, 403, 404] },
  },
  '/v1/subscriptions/{name}/pause': {
    post: { summary: 'pause delivery', ok: [200, anyObject], fails: [401, 403, 404] },
  },
  '/v1/subscriptions/{name}/resume': {
    post: { summary: 'resume delivery', ok: [200, anyObject], fails: [401, 403, 404] },
  },
  '/v1/subscriptions/{name}/reset': {
    post: {
      summary: 'move every partition to a position',
      body: ref('ResetRequest'),
      ok: [200, anyObject],
      fails: [400, 401, 403, 404],
    },
  },
  '/v1/subscriptions/{name}/pull': {
    post: {
      summary: 'pull deliveries (long poll)',
      body: ref('PullRequest'),
      ok: [200, anyObject],
      fails: [400, 401, 403, 404],
    },
  },
  '/v1/subscriptions/{name}/ack': {
    post: {
      summary: 'ack deliveries',
      body: ref('AckRequest'),
      ok: [200, anyObject],
      fails: [400, 401, 403, 404],
    },
  },
  '/v1/subscriptions/{name}/nak': {
    post: {
      summary: 'nak a delivery',
      body: ref('NakRequest'),
      ok: [200, anyObject],
      fails: [400, 401, 403, 404],
    },
  },
  '/v1/subscriptions/{name}/term': {
    post: {
      summary: 'dead-letter a delivery now',
      body: ref('TermRequest'),
      ok: [200, anyObject],
      fails: [400, 401, 403, 404],
    },
  },
  '/v1/subscriptions/{name}/dead-letters': {
    get: {
      summary: 'dead letters of a queue subscription',
      query: ['limit', 'all'],
      ok: [200, anyObject],
      fails: [400, 401, 403, 404],
    },
  },
  '/v1/subscriptions/{name}/redrive': {
    post: {
      summary: 'deliver dead letters again',
      body: ref('RedriveRequest'),
      ok: [200, anyObject],
      fails: [400, 401, 403, 404],
    },
  },
  '/v1/replays': {
    post: {
      summary: 'start a replay job',
      body: ref('CreateReplay'),
      ok: [201, anyObject],
      fails: [400, 401, 403, 404],
    },
    get: { summary: 'list replay jobs', ok: [200, anyObject] },
  },
  '/v1/replays/{id}': {
    get: { summary: 'a replay job: status and progress', ok: [200, anyObject], fails: [401, 403, 404] },
  },
  '/v1/replays/{id}/cancel': {
    post: { summary: 'cancel a replay job', ok: [200, anyObject], fails: [401, 403, 404] },
  },
  '/v1/events/{id}': {
    get: { summary: "an event's status in each subscription", ok: [200, anyObject], fails: [401, 403, 404] },
  },
  '/v1/events/status': {
    get: {
      summary: "an event's status found by CloudEvents source + id (id alone: as /v1/events/{id})",
      query: ['source', 'id'],
      ok: [200, anyObject],
      fails: [400, 401, 403, 404],
    },
  },
  '/v1/keys': {
    post: {
      summary: 'create an API key; its secret is in this answer only',
      body: ref('CreateKey'),
      ok: [201, anyObject],
    },
    get: { summary: 'list keys (never their secrets)', ok: [200, anyObject] },
  },
  '/v1/keys/{id}': { delete: { summary: 'revoke a key', ok: [204, null], fails: [401, 403, 404] } },
  '/v1/tokens': {
    post: { summary: 'mint a short-lived browser token', body: ref('CreateToken'), ok: [201, anyObject] },
  },
  '/v1/brokers': { get: { summary: "the cluster's live brokers", ok: [200, anyObject] } },
  '/v1/presence/{channel}': {
    get: {
      summary: "a presence channel's members now, on every broker (the `presence` or `admin` action)",
      ok: [200, ref('PresenceMembers')],
      fails: [400, 401, 403],
    },
  },
  '/v1/audit': { get: { summary: 'the audit log', ok: [200, anyObject] } },
  '/health': { get: { summary: 'health', ok: [200, anyObject], fails: [503] } },
  '/health/live': { get: { summary: 'liveness probe', ok: [200, anyObject], fails: [] } },
  '/health/ready': { get: { summary: 'readiness probe', ok: [200, anyObject], fails: [503] } },
  '/metrics': {
    get: { summary: 'Prometheus metrics', ok: [200, { type: 'string' }, 'text/plain'], fails: [401, 403] },
  },
}

export function buildOpenApi(version: string) {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const [path, methods] of Object.entries(ROUTES)) {
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)
    paths[path] = Object.fromEntries(Object.entries(methods).map(([m, op]) => [m, operation(op, params)]))
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Questlog HTTP API',
      version,
      description:
        'A durable event bus for game backends. Errors are {"error":{"code","message","details"?}}. The WebSocket and SSE protocols are in the AsyncAPI document.',
    },
    servers: [{ url: 'http://localhost:4600' }],
    security: [{ bearer: [] }, {}],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'an API key (ql_…) or token (qt_…)' },
      },
      schemas: Object.fromEntries(
        Object.entries(API_SCHEMAS).map(([name, [schema, io]]) => [name, jsonSchema(schema, io)]),
      ),
    },
  }
}
