import { type CreateReplay, createReplaySchema } from '@questlog/protocol'

/** The replay form's fields as typed: text until checked. */
export interface ReplayFormValues {
  topic: string
  range: 'offset' | 'time'
  fromOffset: string
  toOffset: string
  partition: string
  since: string
  until: string
  type: string
  key: string
  target: 'subscription' | 'topic'
  targetName: string
  maxEventsPerSecond: string
}

export type ReplayErrors = Partial<Record<keyof ReplayFormValues | 'form', string>>

export const EMPTY_REPLAY: ReplayFormValues = {
  topic: '',
  range: 'offset',
  fromOffset: '0',
  toOffset: '',
  partition: '',
  since: '1h',
  until: '',
  type: '',
  key: '',
  target: 'subscription',
  targetName: '',
  maxEventsPerSecond: '',
}

/** A schema or broker field path → the form field that shows it. */
export function replayField(path: string): keyof ReplayErrors {
  const [head, next] = path.split('.')
  if (head === 'target') return 'targetName'
  if (head === 'filter') return next === 'key' ? 'key' : 'type'
  const fields: Array<keyof ReplayErrors> = [
    'topic',
    'fromOffset',
    'toOffset',
    'partition',
    'since',
    'until',
    'maxEventsPerSecond',
  ]
  return fields.find((f) => f === head) ?? 'form'
}

/** Checks the values with the protocol's own schema, as the broker will. */
export function checkReplay(v: ReplayFormValues) {
  const errors: ReplayErrors = {}
  const input: Record<string, unknown> = { topic: v.topic.trim() }
  const whole = (field: 'fromOffset' | 'toOffset' | 'partition' | 'maxEventsPerSecond') => {
    const text = v[field].trim()
    if (text === '') return
    const n = Number(text)
    if (!Number.isInteger(n)) errors[field] = 'enter a whole number'
    else input[field] = n
  }
  if (v.range === 'offset') {
    whole('fromOffset')
    whole('toOffset')
  } else {
    if (v.since.trim()) input.since = v.since.trim()
    if (v.until.trim()) input.until = v.until.trim()
  }
  whole('partition')
  whole('maxEventsPerSecond')
  const filter: Record<string, string> = {}
  if (v.type.trim()) filter.type = v.type.trim()
  if (v.key !== '') filter.key = v.key
  input.filter = filter
  input.target = { [v.target]: v.targetName.trim() }
  const parsed = createReplaySchema.safeParse(input)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      let field = replayField(issue.path.join('.'))
      // "give an offset range or a time range" concerns whichever range is shown
      if (field === 'since' && v.range === 'offset') field = 'fromOffset'
      errors[field] ??= issue.message
    }
  }
  return Object.keys(errors).length > 0 || !parsed.success
    ? { ok: false as const, errors }
    : { ok: true as const, input: input as CreateReplay }
}
