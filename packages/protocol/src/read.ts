import { z } from 'zod'
import { subjectPatternError } from './subject'
import { parseTimeParam } from './time'

const positionSchema = z
  .string()
  .regex(/^(earliest|latest|\d{1,19})$/, "use 'earliest', 'latest' or an offset")

const timeSchema = z.string().refine((v) => parseTimeParam(v) !== null, {
  message: "use ISO-8601 (2026-11-26T14:00:00Z), epoch milliseconds, or a span ago such as '15m' or '1h'",
})

const partitionParam = z.coerce
  .number({ error: 'must be a partition number' })
  .int('must be a whole number')
  .min(0, 'must be 0 or more')

const typeFilter = z.string().superRefine((v, ctx) => {
  const problem = subjectPatternError(v)
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

/** Query of `GET /v1/topics/{topic}/events`. */
export const readQuerySchema = z.strictObject({
  partition: partitionParam.optional(),
  /** First offset to return (inclusive), or `earliest`/`latest`. */
  from: positionSchema.optional(),
  limit: z.coerce.number().int().min(1, 'must be at least 1').max(1000, 'at most 1000').default(100),
  since: timeSchema.optional(),
  until: timeSchema.optional(),
  /** The `cursor` of a previous page. */
  cursor: z.string().max(8192).optional(),
  /** Only events with this partition key. */
  key: z.string().max(512).optional(),
  /** Only events whose type matches this subject pattern (`game.*`). */
  type: typeFilter.optional(),
})

export type ReadQuery = z.infer<typeof readQuerySchema>

/** Path of `GET /v1/topics/{topic}/events/{partition}/{offset}`: one stored event. */
export const eventPositionSchema = z.strictObject({
  partition: partitionParam,
  offset: z.string().regex(/^\d{1,15}$/, 'must be an offset (a whole number)'),
})

/** Query of `GET /v1/topics/{topic}/stream`. */
export const streamQuerySchema = z.strictObject({
  from: positionSchema.default('latest'),
  partition: partitionParam.optional(),
  /** Resume cursor, for clients that cannot set `Last-Event-ID`. */
  lastEventId: z.string().max(8192).optional(),
  key: z.string().max(512).optional(),
  type: typeFilter.optional(),
})

export type StreamQuery = z.infer<typeof streamQuerySchema>

/** Query of `GET /v1/topics/{topic}/snapshot` (compacted topics): the latest event of every key, a page at a time. */
export const snapshotQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1, 'must be at least 1').max(1000, 'at most 1000').default(500),
  /** The `page` of the previous answer: the next keys of the same snapshot. */
  page: z.string().max(16_384).optional(),
})

export type SnapshotQuery = z.infer<typeof snapshotQuerySchema>
