import type { FastifyInstance } from 'fastify'
import { isSuperuser } from '../auth/principal'
import { brokerInfo } from '../cluster/registry'
import type { Services } from '../services'

/**
 * `GET /v1/brokers`: the cluster's live brokers, read from the registry now. Any key or browser
 * token may ask (a client routes by it); administrators also see versions and times.
 */
export function brokersRoutes(app: FastifyInstance, s: Services): void {
  app.get('/v1/brokers', async (req) => {
    const full = isSuperuser(req.principal)
    return { brokers: (await s.cluster.registry.listLive()).map((b) => brokerInfo(b, full)) }
  })
}
