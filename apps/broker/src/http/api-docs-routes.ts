import { API_VERSION, buildAsyncApi, buildOpenApi } from '@questlog/protocol/api'
import type { FastifyInstance } from 'fastify'

/**
 * `GET /openapi.json` and `GET /asyncapi.json`: the HTTP API and the WebSocket/SSE protocols,
 * built from the protocol package's schemas (the same files as docs/api/), public like /health.
 */
export function apiDocsRoutes(app: FastifyInstance): void {
  const openapi = JSON.stringify(buildOpenApi(API_VERSION))
  const asyncapi = JSON.stringify(buildAsyncApi(API_VERSION))
  app.get('/openapi.json', (_req, reply) => reply.type('application/json; charset=utf-8').send(openapi))
  app.get('/asyncapi.json', (_req, reply) => reply.type('application/json; charset=utf-8').send(asyncapi))
}
