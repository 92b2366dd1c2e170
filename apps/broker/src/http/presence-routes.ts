import { isAllowed, presenceChannelSchema } from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requireTopic } from '../auth/principal'
import { parse } from '../parse'
import type { Services } from '../services'

const paramsSchema = z.strictObject({ channel: presenceChannelSchema })

/**
 * `GET /v1/presence/{channel}`: the channel's members now, as this broker knows them (its own and
 * those the other brokers told it of). A key with `presence` on the channel may read it, and so
 * may an operator's (`admin`), for the console.
 */
export function presenceRoutes(app: FastifyInstance, s: Services): void {
  app.get('/v1/presence/:channel', async (req) => {
    const { channel } = parse(paramsSchema, req.params)
    if (!isAllowed(req.principal.rules, 'admin', channel)) requireTopic(req.principal, 'presence', channel)
    return { channel, members: s.presence.members(channel) }
  })
}
