import { z } from 'zod'
import { TOPIC_NAME_PATTERN } from './wire'

export const topicNameSchema = z
  .string()
  .min(1, 'topic name is empty')
  .max(200, 'topic names are at most 200 characters')
  .regex(TOPIC_NAME_PATTERN, "use letters, digits, '_' and '-', separated by dots (e.g. game.events)")

const DAY = 86_400_000

/** Limits on topic settings; the broker enforces them, the console mirrors them. */
export const TOPIC_LIMITS = {
  maxPartitions: 256,
  maxEventBytes: 8 * 1024 * 1024,
  maxDedupeWindowMs: 7 * DAY,
  minRetentionMs: 1000,
  minSegmentMs: 1000,
  maxSegmentMs: 7 * DAY,
} as const

export const TOPIC_DEFAULTS = {
  partitions: 1,
  dedupeWindowMs: 120_000,
  maxEventBytes: 1024 * 1024,
  segmentMs: 3_600_000,
  deleteRetentionMs: 86_400_000,
} as const

/**
 * What happens to a topic's old events: `delete` drops whole segments past the retention;
 * `compact` rewrites sealed segments to keep only the latest event of each key (a `data: null`
 * event is a tombstone that removes its key after `deleteRetentionMs`); `compact,delete` does both.
 */
export const cleanupPolicySchema = z.enum(['delete', 'compact', 'compact,delete'])
export type CleanupPolicy = z.infer<typeof cleanupPolicySchema>

/** Whether a topic with this policy is compacted. */
export function isCompacted(cleanup: CleanupPolicy): boolean {
  return cleanup !== 'delete'
}

const retentionMs = z
  .number()
  .int()
  .min(TOPIC_LIMITS.minRetentionMs, 'retention is at least 1000 ms')
  .nullable()
const retentionBytes = z.number().int().min(1, 'must be at least 1 byte').nullable()
const dedupeWindowMs = z
  .number()
  .int()
  .min(0, 'must be 0 or more')
  .max(TOPIC_LIMITS.maxDedupeWindowMs, 'the dedupe window is at most 7 days')
const maxEventBytes = z
  .number()
  .int()
  .min(1, 'must be at least 1 byte')
  .max(TOPIC_LIMITS.maxEventBytes, 'events are at most 8 MiB')
const deleteRetentionMs = z
  .number()
  .int()
  .min(0, 'must be 0 or more')
  .max(365 * DAY, 'the delete retention is at most 365 days')
const partitions = z
  .number()
  .int('must be a whole number')
  .min(1, 'a topic has at least 1 partition')
  .max(TOPIC_LIMITS.maxPartitions, `a topic has at most ${TOPIC_LIMITS.maxPartitions} partitions`)

/** How a new schema version must relate to the previous one. */
export const schemaCompatibilitySchema = z.enum(['backward', 'forward', 'full', 'none'])
/** What happens to an event that fails its schema: refused, or diverted to the `{topic}.invalid` topic. */
export const onInvalidSchema = z.enum(['reject', 'dead-letter'])

/** Payload encryption at rest: none, one key per topic, or one key per event key (erasable per player). */
export const encryptionModeSchema = z.enum(['none', 'topic', 'per-key'])

export const createTopicSchema = z
  .strictObject({
    name: topicNameSchema,
    /** Number of partitions; events with the same key share one and keep their order. */
    partitions: partitions.default(TOPIC_DEFAULTS.partitions),
    /** Events older than this are dropped, a whole time segment at a time; null keeps them. */
    retentionMs: retentionMs.optional(),
    /** Once a topic is larger than this, its oldest segments are dropped; null for no limit. */
    retentionBytes: retentionBytes.optional(),
    /** A repeated dedupe key inside this window is answered with the original receipt. */
    dedupeWindowMs: dedupeWindowMs.default(TOPIC_DEFAULTS.dedupeWindowMs),
    /** Largest payload accepted, in bytes. */
    maxEventBytes: maxEventBytes.default(TOPIC_DEFAULTS.maxEventBytes),
    /** Span of one time segment of the log (the unit retention drops); fixed at creation. */
    segmentMs: z
      .number()
      .int()
      .min(TOPIC_LIMITS.minSegmentMs, 'segments span at least 1000 ms')
      .max(TOPIC_LIMITS.maxSegmentMs, 'segments span at most 7 days')
      .optional(),
    schemaCompatibility: schemaCompatibilitySchema.default('backward'),
    onInvalid: onInvalidSchema.default('reject'),
    encryption: encryptionModeSchema.default('none'),
    /** `delete` (the default), `compact` or `compact,delete`; fixed at creation. */
    cleanup: cleanupPolicySchema.default('delete'),
    /** How long a tombstone (`data: null`) of a compacted topic stays readable before its key is removed. */
    deleteRetentionMs: deleteRetentionMs.default(TOPIC_DEFAULTS.deleteRetentionMs),
  })
  .superRefine((t, ctx) => {
    if (t.cleanup !== 'delete' && t.encryption !== 'none') {
      ctx.addIssue({
        code: 'custom',
        path: ['cleanup'],
        message:
          'a compacted topic cannot encrypt its payloads (tombstones must stay readable to compaction)',
      })
    }
  })

export type CreateTopicInput = z.input<typeof createTopicSchema>
export type CreateTopic = z.output<typeof createTopicSchema>

/** Settings that can change after creation. Partitions may only grow. */
export const updateTopicSchema = z.strictObject({
  partitions: partitions.optional(),
  retentionMs: retentionMs.optional(),
  retentionBytes: retentionBytes.optional(),
  dedupeWindowMs: dedupeWindowMs.optional(),
  maxEventBytes: maxEventBytes.optional(),
  schemaCompatibility: schemaCompatibilitySchema.optional(),
  onInvalid: onInvalidSchema.optional(),
  encryption: encryptionModeSchema.optional(),
  deleteRetentionMs: deleteRetentionMs.optional(),
})

export type UpdateTopic = z.infer<typeof updateTopicSchema>

export const partitionInfoSchema = z.object({
  partition: z.number().int(),
  /** Lowest offset still stored (the low watermark). */
  earliest: z.string(),
  /** Offset the next event will get (the high watermark). */
  next: z.string(),
})

export const topicInfoSchema = z.object({
  name: z.string(),
  partitions: z.number().int(),
  retentionMs: z.number().nullable(),
  retentionBytes: z.number().nullable(),
  dedupeWindowMs: z.number(),
  maxEventBytes: z.number(),
  segmentMs: z.number(),
  schemaCompatibility: schemaCompatibilitySchema,
  onInvalid: onInvalidSchema,
  encryption: encryptionModeSchema,
  cleanup: cleanupPolicySchema,
  deleteRetentionMs: z.number(),
  createdAt: z.string(),
  /** Bytes on disk for the topic's log (heap, indexes, TOAST). */
  sizeBytes: z.number().optional(),
  /** Events stored now. */
  events: z.number().optional(),
  partitionInfo: z.array(partitionInfoSchema).optional(),
})

export type TopicInfo = z.infer<typeof topicInfoSchema>
export type PartitionInfo = z.infer<typeof partitionInfoSchema>

export const registerSchemaSchema = z.strictObject({
  /** A JSON Schema (draft 2020-12), e.g. from zod's `z.toJSONSchema`. */
  schema: z.record(z.string(), z.unknown()),
  /** Overrides the topic's compatibility rule for this registration. */
  compatibility: schemaCompatibilitySchema.optional(),
})
