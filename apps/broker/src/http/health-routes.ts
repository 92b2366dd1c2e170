import { NotReadyError } from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { metricsAccess } from '../auth/metrics-access'
import type { Services } from '../services'

export function healthRoutes(app: FastifyInstance, s: Services): void {
  app.get('/health', async (_req, reply) => {
    const report = s.health.report()
    return reply.status(report.status === 'down' ? 503 : 200).send(report)
  })

  app.get('/health/live', async () => ({ status: 'ok' }))

  app.get('/health/ready', async () => {
    if (!s.health.ready) throw new NotReadyError('the database is not reachable')
    // a draining broker leaves load balancers' rotation as it leaves the SDKs' choice
    if (s.health.isDraining) throw new NotReadyError('the broker is draining')
    return { status: 'ready' }
  })

  app.get('/metrics', async (req, reply) => {
    const view = await metricsAccess(s, req.headers.authorization)
    return reply.type(s.metrics.registry.contentType).send(await s.metrics.exposition(view === 'full'))
  })
}
