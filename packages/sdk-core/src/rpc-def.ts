import { type ValidationError, validationErrorFromZod } from '@questlog/protocol'
import type { z } from 'zod'

/** A request subject with the types of its payload and its reply, checked at compile time and run time. */
export interface RequestDef<Req, Res> {
  readonly name: string
  readonly request: z.ZodType<Req> | undefined
  readonly reply: z.ZodType<Res> | undefined
}

/**
 * Defines a request/reply subject: `request` checks the payload before sending
 * and the reply on arrival; `respond` checks each incoming payload before the handler runs.
 *
 * ```ts
 * const mathAdd = defineRequest('math.add', z.object({ a: z.number(), b: z.number() }), z.number())
 * ```
 */
export function defineRequest<Q extends z.ZodType, R extends z.ZodType>(
  name: string,
  request: Q,
  reply: R,
): RequestDef<z.output<Q>, z.output<R>> {
  return {
    name,
    request: request as z.ZodType<z.output<Q>>,
    reply: reply as z.ZodType<z.output<R>>,
  }
}

/** A subject (or, for `respond`, a pattern) given as a string or a typed definition. */
export type RequestRef<Req = unknown, Res = unknown> = string | RequestDef<Req, Res>

export function requestSubject(r: RequestRef<unknown, unknown>): string {
  return typeof r === 'string' ? r : r.name
}

/** Checks a value against one side of a definition; the error names the field as `<prefix>.<path>`. */
export function checkAgainst<T>(
  schema: z.ZodType<T> | undefined,
  value: unknown,
  prefix: string,
): { ok: true; value: T } | { ok: false; error: ValidationError } {
  if (!schema) return { ok: true, value: value as T }
  const r = schema.safeParse(value)
  return r.success
    ? { ok: true, value: r.data }
    : { ok: false, error: validationErrorFromZod(r.error, prefix) }
}
