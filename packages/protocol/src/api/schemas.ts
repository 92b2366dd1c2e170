import { z } from 'zod'
import * as protocol from '../index'
import { jsonSchema } from './openapi'

/** Every zod schema the protocol package exports (`…Schema`), as JSON Schema 2020-12, by export name. */
export function buildJsonSchemas(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {}
  for (const [name, value] of Object.entries(protocol).sort(([a], [b]) => a.localeCompare(b)))
    if (name.endsWith('Schema') && value instanceof z.ZodType) out[name] = jsonSchema(value, 'output')
  return out
}
