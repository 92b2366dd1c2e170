import { subjectPatternError, ValidationError } from '@questlog/protocol'
import { z } from 'zod'

/** Where a reader stands: per partition, the next offset it wants, plus the filters of its query. */
export interface Cursor {
  topicId: number
  positions: Map<number, number>
  sinceMs?: number | undefined
  untilMs?: number | undefined
  key?: string | undefined
  type?: string | undefined
}

// a cursor comes back from the client: every field is checked, as a tampered one reaches SQL
const offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
// the range a Date holds: a millisecond time outside it cannot become a timestamp
const epochMs = z.number().int().min(-8.64e15).max(8.64e15)
const wireSchema = z.object({
  t: z.number().int(),
  p: z.array(z.tuple([offset, offset])).max(10_000),
  s: epochMs.optional(),
  u: epochMs.optional(),
  k: z.string().max(512).optional(),
  y: z
    .string()
    .refine((v) => subjectPatternError(v) === null)
    .optional(),
})

type Wire = z.infer<typeof wireSchema>

/** Opaque to clients: base64url of a small JSON document. */
export function encodeCursor(c: Cursor): string {
  const wire: Wire = { t: c.topicId, p: [...c.positions] }
  if (c.sinceMs !== undefined) wire.s = c.sinceMs
  if (c.untilMs !== undefined) wire.u = c.untilMs
  if (c.key !== undefined) wire.k = c.key
  if (c.type !== undefined) wire.y = c.type
  return Buffer.from(JSON.stringify(wire)).toString('base64url')
}

export function decodeCursor(text: string, topicId: number, field: string): Cursor {
  const bad = (why: string) =>
    new ValidationError([{ path: field, message: `not a cursor of this topic: ${why}` }])
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  } catch {
    throw bad('unreadable')
  }
  const wire = wireSchema.safeParse(parsed)
  if (!wire.success) throw bad('unreadable')
  if (wire.data.t !== topicId) throw bad('it belongs to another topic')
  const { p, s, u, k, y } = wire.data
  const positions = new Map<number, number>(p)
  return { topicId, positions, sinceMs: s, untilMs: u, key: k, type: y }
}
