import { type ValidationError, validationErrorFromZod } from '@questlog/protocol'
import type { z } from 'zod'

/** A topic with a payload type: `publish` checks payloads at compile time, and at run time unless disabled. */
export interface TopicDef<T> {
  readonly name: string
  readonly schema: z.ZodType<T> | undefined
  /** Check payloads against the schema before sending. */
  readonly validate: boolean
}

export interface DefineTopicOptions {
  /** Check payloads against the schema before they are sent (default true). */
  validate?: boolean
}

export function defineTopic<S extends z.ZodType>(
  name: string,
  schema: S,
  options: DefineTopicOptions = {},
): TopicDef<z.output<S>> {
  return { name, schema: schema as z.ZodType<z.output<S>>, validate: options.validate ?? true }
}

/** A topic name or a typed topic. */
export type TopicRef<T = unknown> = string | TopicDef<T>

export function topicName(t: TopicRef<unknown>): string {
  return typeof t === 'string' ? t : t.name
}

/** Checks a payload; the ValidationError names the field as `data.<path>`. */
export function checkPayload<T>(topic: TopicRef<T>, data: T): ValidationError | undefined {
  if (typeof topic === 'string' || !topic.validate || !topic.schema) return undefined
  const r = topic.schema.safeParse(data)
  return r.success ? undefined : validationErrorFromZod(r.error, 'data')
}
