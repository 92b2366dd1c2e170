import {
  type CleanupPolicy,
  createTopicSchema,
  isCompacted,
  type TopicInfo,
  updateTopicSchema,
} from '@questlog/protocol'

/** The topic form's fields as typed: every value is text until it is checked. */
export interface TopicFormValues {
  name: string
  partitions: string
  retentionMs: string
  retentionBytes: string
  dedupeWindowMs: string
  maxEventBytes: string
  /** Fixed at creation: `delete`, `compact` or `compact,delete`. */
  cleanup: CleanupPolicy
  /** Compacted topics: how long a tombstone stays readable before its key is removed. */
  deleteRetentionMs: string
}

export type FieldErrors = Partial<Record<keyof TopicFormValues | 'form', string>>

export const EMPTY_TOPIC: TopicFormValues = {
  name: '',
  partitions: '1',
  retentionMs: '',
  retentionBytes: '',
  dedupeWindowMs: '',
  maxEventBytes: '',
  cleanup: 'delete',
  deleteRetentionMs: '',
}

export function valuesOf(t: TopicInfo): TopicFormValues {
  return {
    name: t.name,
    partitions: String(t.partitions),
    retentionMs: t.retentionMs === null ? '' : String(t.retentionMs),
    retentionBytes: t.retentionBytes === null ? '' : String(t.retentionBytes),
    dedupeWindowMs: String(t.dedupeWindowMs),
    maxEventBytes: String(t.maxEventBytes),
    cleanup: t.cleanup,
    deleteRetentionMs: String(t.deleteRetentionMs),
  }
}

const NUMERIC = [
  'partitions',
  'retentionMs',
  'retentionBytes',
  'dedupeWindowMs',
  'maxEventBytes',
  'deleteRetentionMs',
] as const

/** Text → numbers: empty means "not set"; anything that is not a number is an error of its own. */
function numbers(v: TopicFormValues, errors: FieldErrors): Record<string, number | null | undefined> {
  const out: Record<string, number | null | undefined> = {}
  for (const field of NUMERIC) {
    const text = v[field].trim()
    if (text === '') {
      // an empty retention means "keep forever"; other fields fall back to their defaults
      out[field] = field === 'retentionMs' || field === 'retentionBytes' ? null : undefined
      continue
    }
    const n = Number(text)
    if (!Number.isFinite(n)) errors[field] = 'enter a number'
    else out[field] = n
  }
  return out
}

function collect(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>, errors: FieldErrors) {
  for (const issue of issues) {
    const field = String(issue.path[0] ?? 'form') as keyof FieldErrors
    errors[field] ??= issue.message
  }
}

/** Checks a new topic with the protocol's own schema, as the broker will. */
export function checkCreate(v: TopicFormValues) {
  const errors: FieldErrors = {}
  const n = numbers(v, errors)
  // the delete retention only matters to a compacted topic; the form hides it otherwise
  if (!isCompacted(v.cleanup)) {
    n.deleteRetentionMs = undefined
    delete errors.deleteRetentionMs
  }
  const input = Object.fromEntries(
    Object.entries({ name: v.name.trim(), ...n, cleanup: v.cleanup }).filter(
      ([, value]) => value !== undefined,
    ),
  )
  const parsed = createTopicSchema.safeParse(input)
  if (!parsed.success) collect(parsed.error.issues, errors)
  return Object.keys(errors).length > 0 || !parsed.success
    ? { ok: false as const, errors }
    : { ok: true as const, input: parsed.data }
}

/** Checks the changed settings of an existing topic. */
export function checkUpdate(v: TopicFormValues, current: TopicInfo) {
  const errors: FieldErrors = {}
  const n = numbers(v, errors)
  const before = valuesOf(current)
  const patch = Object.fromEntries(
    NUMERIC.filter((f) => v[f].trim() !== before[f] && n[f] !== undefined).map((f) => [f, n[f]]),
  )
  const parsed = updateTopicSchema.safeParse(patch)
  if (!parsed.success) collect(parsed.error.issues, errors)
  if (typeof patch.partitions === 'number' && patch.partitions < current.partitions) {
    errors.partitions ??= `partitions can only grow (the topic has ${current.partitions})`
  }
  return Object.keys(errors).length > 0 || !parsed.success
    ? { ok: false as const, errors }
    : { ok: true as const, patch: parsed.data }
}
