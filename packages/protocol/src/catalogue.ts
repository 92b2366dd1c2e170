import { z } from 'zod'

/**
 * Ready payload schemas for common game events. Use them with an SDK's
 * `defineTopic(name, schema)` or as the `type` of events on a shared topic.
 */

const playerId = z.string().min(1).max(128)
const matchId = z.string().min(1).max(128)
const vector = z.object({ x: z.number(), y: z.number(), z: z.number().optional() })

export const gameJoinSchema = z.object({
  player: playerId,
  match: matchId,
  team: z.string().max(64).optional(),
  region: z.string().max(64).optional(),
})

export const gameLeaveSchema = z.object({
  player: playerId,
  match: matchId,
  reason: z.enum(['quit', 'disconnect', 'kicked', 'match_end']).default('quit'),
})

export const gameKillSchema = z.object({
  match: matchId,
  killer: playerId,
  victim: playerId,
  weapon: z.string().max(64).optional(),
  headshot: z.boolean().optional(),
  position: vector.optional(),
})

export const gameDeathSchema = z.object({
  match: matchId,
  player: playerId,
  cause: z.string().max(64),
  position: vector.optional(),
})

export const gameScoreSchema = z.object({
  match: matchId,
  player: playerId,
  /** Points gained by this event; may be negative. */
  delta: z.number().int(),
  /** Score after this event. */
  total: z.number().int(),
})

export const gameMatchStartSchema = z.object({
  match: matchId,
  map: z.string().max(128),
  mode: z.string().max(64),
  players: z.array(playerId).max(1000),
  startedAt: z.iso.datetime().optional(),
})

export const gameMatchEndSchema = z.object({
  match: matchId,
  durationMs: z.number().int().nonnegative(),
  winner: z.string().max(128).nullable(),
  scores: z.record(z.string(), z.number().int()).optional(),
})

export const systemEventSchema = z.object({
  /** e.g. `system.server_start`, `system.config_reload`. */
  component: z.string().max(128),
  level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  message: z.string().max(4096),
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
})

export const analyticsEventSchema = z.object({
  /** Player or anonymous device id. */
  subject: z.string().min(1).max(128),
  name: z.string().min(1).max(128),
  properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  sessionId: z.string().max(128).optional(),
})

export const auditEventSchema = z.object({
  actor: z.string().min(1).max(256),
  action: z.string().min(1).max(128),
  target: z.string().max(512),
  outcome: z.enum(['success', 'failure']),
  details: z.record(z.string(), z.unknown()).optional(),
})

/** Event type → payload schema. `system.*`, `analytics.*` and `audit.*` share one schema per family. */
export const GAME_EVENT_CATALOGUE = {
  'game.join': gameJoinSchema,
  'game.leave': gameLeaveSchema,
  'game.kill': gameKillSchema,
  'game.death': gameDeathSchema,
  'game.score': gameScoreSchema,
  'game.match_start': gameMatchStartSchema,
  'game.match_end': gameMatchEndSchema,
  'system.*': systemEventSchema,
  'analytics.*': analyticsEventSchema,
  'audit.*': auditEventSchema,
} as const

export type GameEventType = keyof typeof GAME_EVENT_CATALOGUE
export type GameJoin = z.infer<typeof gameJoinSchema>
export type GameLeave = z.infer<typeof gameLeaveSchema>
export type GameKill = z.infer<typeof gameKillSchema>
export type GameDeath = z.infer<typeof gameDeathSchema>
export type GameScore = z.infer<typeof gameScoreSchema>
export type GameMatchStart = z.infer<typeof gameMatchStartSchema>
export type GameMatchEnd = z.infer<typeof gameMatchEndSchema>
export type SystemEvent = z.infer<typeof systemEventSchema>
export type AnalyticsEvent = z.infer<typeof analyticsEventSchema>
export type AuditEvent = z.infer<typeof auditEventSchema>

/** The catalogue schema for an event type (`system.boot` finds `system.*`), or undefined. */
export function catalogueSchemaFor(type: string): z.ZodType | undefined {
  const exact = (GAME_EVENT_CATALOGUE as Record<string, z.ZodType>)[type]
  if (exact) return exact
  const family = `${type.split('.')[0]}.*`
  return (GAME_EVENT_CATALOGUE as Record<string, z.ZodType>)[family]
}
