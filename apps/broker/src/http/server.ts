import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import cors from '@fastify/cors'
import { BadRequestError, MAX_BODY_DEPTH, NotFoundError, nestsDeeperThan } from '@questlog/protocol'
import type { TRPCError } from '@trpc/server'
import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify'
import { adminRouter } from '../admin/router'
import { installAuth } from '../auth/http-auth'
import { originAllowed } from '../auth/origin-policy'
import { redactUrl } from '../auth/query-credential'
import { toQuestlogError } from '../errors'
import type { Services } from '../services'
import { registerWebSocket } from '../ws/ws-route'
import { apiDocsRoutes } from './api-docs-routes'
import { brokersRoutes } from './brokers-routes'
import { cloudEventsRoute } from './cloudevents-route'
import { eventsRoutes } from './events-routes'
import { healthRoutes } from './health-routes'
import { keysRoutes } from './keys-routes'
import { presenceRoutes } from './presence-routes'
import { replaysRoutes } from './replays-routes'
import { scheduledRoutes } from './scheduled-routes'
import { schemasRoutes } from './schemas-routes'
import { streamRoute } from './stream-route'
import { eventStatusRoute, subscriptionsRoutes } from './subscriptions-routes'
import { tableRoutes } from './table-routes'
import { topicsRoutes } from './topics-routes'

export async function createHttpServer(s: Services): Promise<FastifyInstance> {
  function sendError(err: unknown, req: FastifyRequest, reply: FastifyReply) {
    const { error, unexpected } = toQuestlogError(err)
    if (unexpected) req.log.error({ err, url: redactUrl(req.url) }, 'request failed')
    s.metrics.rejected.inc({ reason: error.code })
    if (error.code === 'backpressure' || error.code === 'rate_limited') {
      const ms = Number(error.details?.retryAfterMs ?? 1000)
      void reply.header('retry-after', String(Math.max(1, Math.ceil(ms / 1000))))
    }
    return reply.status(error.status).send(error.toJSON())
  }
  const { tlsCert, tlsKey } = s.config
  const https = tlsCert && tlsKey ? { cert: readFileSync(tlsCert), key: readFileSync(tlsKey) } : null
  // the https variant has its own server type; routes are the same either way
  const app = Fastify({
    https,
    loggerInstance: s.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: s.config.maxBodyBytes,
    routerOptions: { maxParamLength: 500 },
    // a caller's x-request-id is kept, so one id follows a request through the logs
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // a malformed percent-escape in the path is the caller's error, in the same JSON shape as the rest
    frameworkErrors: (err, req, reply) => sendError(err, req, reply),
  }) as unknown as FastifyInstance
  // browsers get CORS headers only for the configured origins; hijacked SSE replies copy them
  await app.register(cors, {
    origin: (origin, cb) => cb(null, origin !== undefined && originAllowed(origin, s.config.allowedOrigins)),
    exposedHeaders: ['Retry-After'],
  })

  // CloudEvents and arbitrary binary-mode payloads arrive as raw bytes; routes decode them.
  app.addContentTypeParser(
    ['application/cloudevents+json', 'application/cloudevents-batch+json'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  )
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    parseJson(req, body as string, (err, value) => {
      if (err) return done(err)
      if (nestsDeeperThan(value, MAX_BODY_DEPTH)) {
        return done(new BadRequestError(`the body nests deeper than ${MAX_BODY_DEPTH} levels`))
      }
      done(null, value)
    })
  })

  app.setErrorHandler((err, req, reply) => sendError(err, req, reply))
  app.setNotFoundHandler((req, reply) => {
    const error = new NotFoundError(`no route for ${req.method} ${req.url.split('?')[0]}`)
    return reply.status(404).send(error.toJSON())
  })

  app.addHook('onSend', async (req, reply) => {
    void reply.header('x-request-id', req.id)
  })
  installAuth(app, s)
  topicsRoutes(app, s)
  keysRoutes(app, s)
  eventsRoutes(app, s)
  tableRoutes(app, s)
  streamRoute(app, s)
  cloudEventsRoute(app, s)
  healthRoutes(app, s)
  apiDocsRoutes(app)
  brokersRoutes(app, s)
  presenceRoutes(app, s)
  subscriptionsRoutes(app, s)
  eventStatusRoute(app, s)
  replaysRoutes(app, s)
  scheduledRoutes(app, s)
  schemasRoutes(app, s)
  await app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: adminRouter,
      createContext: ({ req }: { req: FastifyRequest }) => ({ s, principal: req.principal }),
      // the caller is told only "internal error"; the cause is for the operator
      onError: ({ error, path, req }: { error: TRPCError; path?: string; req: FastifyRequest }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR')
          req.log.error({ err: error.cause ?? error, path }, 'admin call failed')
      },
    },
  })
  registerWebSocket(app, s)
  return app
}
