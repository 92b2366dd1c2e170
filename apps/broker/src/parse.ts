import { validationErrorFromZod } from '@questlog/protocol'
import type { z } from 'zod'

/** Parses with a protocol schema; a failure becomes a ValidationError naming each field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.output<S> {
  const result = schema.safeParse(value)
  if (!result.success) throw validationErrorFromZod(result.error, prefix)
  return result.data
}
