import { type CreateSubscriptionInput, createSubscriptionSchema } from '@questlog/protocol'
import { type PositionKind, parsePosition } from './position'

/** The create form's fields as typed: text until checked. */
export interface SubscriptionFormValues {
  name: string
  topic: string
  mode: 'stream' | 'queue'
  /** Queue mode only: `key` delivers the events of one key one at a time, in order. */
  ordering: 'none' | 'key'
  typeFilter: string
  from: PositionKind
  fromValue: string
  ackWaitMs: string
  maxDeliveries: string
}

export type SubscriptionErrors = Partial<Record<keyof SubscriptionFormValues | 'form', string>>

export const EMPTY_SUBSCRIPTION: SubscriptionFormValues = {
  name: '',
  topic: '',
  mode: 'stream',
  ordering: 'none',
  typeFilter: '',
  from: 'latest',
  fromValue: '',
  ackWaitMs: '',
  maxDeliveries: '',
}

/** A broker or schema field path → the form field that shows it. */
export function formField(path: string): keyof SubscriptionErrors {
  const [head, next] = path.split('.')
  if (head === 'from' || next === 'offset' || next === 'time' || head === 'offset' || head === 'time')
    return 'fromValue'
  const fields: Array<keyof SubscriptionErrors> = [
    'name',
    'topic',
    'mode',
    'ordering',
    'typeFilter',
    'ackWaitMs',
    'maxDeliveries',
  ]
  return fields.find((f) => f === head) ?? 'form'
}

/** Checks the values with the protocol's own schema, as the broker will. */
export function checkSubscription(v: SubscriptionFormValues) {
  const errors: SubscriptionErrors = {}
  const input: Record<string, unknown> = { name: v.name.trim(), topic: v.topic.trim(), mode: v.mode }
  // a stream subscription keeps its partitions' order; the broker refuses `ordering: 'key'` there
  if (v.mode === 'queue') input.ordering = v.ordering
  if (v.typeFilter.trim()) input.typeFilter = v.typeFilter.trim()
  const from = parsePosition(v.from, v.fromValue)
  if (from.ok) input.from = from.value
  else errors.fromValue = from.error
  for (const field of ['ackWaitMs', 'maxDeliveries'] as const) {
    const text = v[field].trim()
    if (text === '') continue
    const n = Number(text)
    if (!Number.isFinite(n)) errors[field] = 'enter a number'
    else input[field] = n
  }
  const parsed = createSubscriptionSchema.safeParse(input)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) errors[formField(issue.path.join('.'))] ??= issue.message
  }
  return Object.keys(errors).length > 0 || !parsed.success
    ? { ok: false as const, errors }
    : { ok: true as const, input: input as CreateSubscriptionInput }
}
