import { z } from 'zod'
import { topicNameSchema } from './topic'

/**
 * Presence: who is on a channel (a lobby, a match, a chat room). A channel is named like a topic
 * and guarded by the `presence` action of a key's rules, but it is not a topic: nothing is
 * stored, a member lasts as long as its connection is heard from.
 */
export const presenceChannelSchema = topicNameSchema

/** A member's id on its channel, chosen by the client (a player id); unique per connection. */
export const presenceMemberIdSchema = z.string().min(1).max(128)

/** How long a member outlives the last frame heard from its connection (default 15 000). */
export const presenceTtlSchema = z.number().int().min(1000).max(300_000)

/** One member as watchers see it. */
export const presenceMemberSchema = z.object({
  id: presenceMemberIdSchema,
  /** The connection that entered it (opaque): one id may be present from several connections. */
  connection: z.string(),
  /** What the member said about itself (a name, a team, a status); absent when it said nothing. */
  info: z.json().optional(),
})

export type PresenceMember = z.infer<typeof presenceMemberSchema>

/** A member by its identity, as a `leave` names it. */
export const presenceMemberRefSchema = z.object({ id: presenceMemberIdSchema, connection: z.string() })
export type PresenceMemberRef = z.infer<typeof presenceMemberRefSchema>

/**
 * Client → broker: enter a channel, change what the member says about itself, or leave; `ok`
 * once done. A connection may hold several members, on one channel or many.
 */
export const presenceFrameSchema = z.strictObject({
  op: z.literal('presence'),
  id: z.number().int().nonnegative(),
  action: z.enum(['enter', 'update', 'leave']),
  channel: presenceChannelSchema,
  member: presenceMemberIdSchema,
  info: z.json().optional(),
  /** The member leaves this long after its connection was last heard from (enter only). */
  ttlMs: presenceTtlSchema.optional(),
})

/**
 * Client → broker: watch a channel's members: `presence_snapshot` frames with every member (the
 * last has `done: true`), then `presence` frames of coalesced changes. `unsubscribe` with the
 * same `sid` stops it.
 */
export const presenceWatchFrameSchema = z.strictObject({
  op: z.literal('presence_watch'),
  sid: z.string().min(1).max(64),
  channel: presenceChannelSchema,
})

/** Broker → watcher: one page of the channel's members at the moment of the watch. */
export const presenceSnapshotFrameSchema = z.object({
  op: z.literal('presence_snapshot'),
  sid: z.string(),
  members: z.array(presenceMemberSchema),
  /** The last page: deltas follow. */
  done: z.boolean(),
})

/**
 * Broker → watcher: what changed since the last frame, coalesced: a member that came and went
 * between two frames is in neither list, and a member appears once per frame whatever it did.
 */
export const presenceDeltaFrameSchema = z.object({
  op: z.literal('presence'),
  sid: z.string(),
  joins: z.array(presenceMemberSchema),
  updates: z.array(presenceMemberSchema),
  leaves: z.array(presenceMemberRefSchema),
})

/** `GET /v1/presence/{channel}`: the channel's members now, on every broker. */
export const presenceMembersSchema = z.object({
  channel: z.string(),
  members: z.array(presenceMemberSchema),
})

export type PresenceFrame = z.infer<typeof presenceFrameSchema>
export type PresenceWatchFrame = z.infer<typeof presenceWatchFrameSchema>
export type PresenceSnapshotFrame = z.infer<typeof presenceSnapshotFrameSchema>
export type PresenceDeltaFrame = z.infer<typeof presenceDeltaFrameSchema>
