import { z } from 'zod'

/**
 * One broker's health as it last reported it in its heartbeat: the figures a client routes by.
 * The names are those of `GET /health`.
 */
export const brokerHealthSchema = z.object({
  /** `ok`, `degraded` (slow loop, low disk, a stalled write lane…) or `down` (no database). */
  status: z.enum(['ok', 'degraded', 'down']),
  /** The host's 1-minute load average. */
  load: z.number(),
  /** p99 event-loop delay: how late the broker answers. */
  lag_ms: z.number(),
  /** Round trip of its last database probe; null when the database did not answer. */
  db_latency_ms: z.number().nullable(),
  /** WebSocket clients connected to it. */
  connections: z.number().int().nonnegative(),
  /**
   * Lame-duck mode, set by an operator before a deploy: the broker still serves, but clients move
   * to another broker and new ones go elsewhere. Absent from older brokers.
   */
  draining: z.boolean().optional(),
})

export type BrokerHealth = z.infer<typeof brokerHealthSchema>

/**
 * A live broker of the cluster, as `GET /v1/brokers`, the `welcome` frame and the `brokers` frame
 * show it. `version`, `startedAt` and `lastSeenAt` are shown to administrators only.
 */
export const brokerInfoSchema = z.object({
  id: z.string(),
  /** Where clients and other brokers reach it (QUESTLOG_ADVERTISED_URL, else its listen URL). */
  url: z.string(),
  health: brokerHealthSchema,
  version: z.string().optional(),
  startedAt: z.string().optional(),
  lastSeenAt: z.string().optional(),
})

export type BrokerInfo = z.infer<typeof brokerInfoSchema>
