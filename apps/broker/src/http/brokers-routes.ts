import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { isSuperuser, requireSuperuser } from '../auth/principal'
import { brokerInfo } from '../cluster/registry'
import { parse } from '../parse'
import type { Services } from '../services'

const drainSchema = z.strictObject({ draining: z.boolean() })
const offsetSchema = z.strictObject({
  load: z.number().min(0).max(1e6).default(0),
  lag_ms: z.number().min(0).max(1e7).default(0),
})

/**
 * `GET /v1/brokers`: the cluster's live brokers, read from the registry now. Any key or browser
 * token may ask (a client routes by it); administrators also see versions and times.
 * `PUT /v1/broker/drain`: lame-duck mode of the broker asked (administrators), before a deploy.
 */
export function brokersRoutes(app: FastifyInstance, s: Services): void {
  app.get('/v1/brokers', async (req) => {
    const full = isSuperuser(req.principal)
    return { brokers: (await s.cluster.registry.listLive()).map((b) => brokerInfo(b, full)) }
  })
  app.put('/v1/broker/drain', async (req) => {
    requireSuperuser(req.principal)
    const { draining } = parse(drainSchema, req.body)
    if (draining !== s.health.isDraining) {
      s.health.drain(draining)
      s.log.warn(
        { draining },
        draining ? 'draining: clients are asked to move to another broker' : 'drain ended',
      )
    }
    return { brokerId: s.brokerId, draining }
  })
  if (s.config.testKnobs === 'on') {
    app.put('/v1/broker/health-offset', async (req) => {
      requireSuperuser(req.principal)
      const offset = parse(offsetSchema, req.body)
      s.health.inflate(offset)
      return { brokerId: s.brokerId, ...offset }
    })
  }
}
