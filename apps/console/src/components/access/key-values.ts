import { ACTIONS, type Action, type CreateKey, subjectPatternError } from '@questlog/protocol'

/** One rule as edited: topics are typed as a comma-separated list. */
export interface RuleValues {
  effect: 'allow' | 'deny'
  actions: Action[]
  topics: string
}

/** The new-key form's fields as typed: every value is text until it is checked. */
export interface KeyFormValues {
  name: string
  rules: RuleValues[]
  /** `datetime-local` text (the operator's local time); empty means the key never expires. */
  expiresAt: string
  rateEventsPerSec: string
  rateBytesPerSec: string
}

/** Field → message; rule fields are `rules.<i>.actions` and `rules.<i>.topics`. */
export type KeyErrors = Record<string, string>

export const EMPTY_RULE: RuleValues = { effect: 'allow', actions: ['publish'], topics: '' }

export const EMPTY_KEY: KeyFormValues = {
  name: '',
  rules: [EMPTY_RULE],
  expiresAt: '',
  rateEventsPerSec: '',
  rateBytesPerSec: '',
}

export { ACTIONS }

function positive(text: string, field: string, errors: KeyErrors): number | undefined {
  const t = text.trim()
  if (t === '') return undefined
  const n = Number(t)
  if (!Number.isInteger(n) || n < 1) errors[field] = 'enter a whole number of at least 1, or leave it empty'
  return n
}

/** The form's values as the broker's create-key input, or the errors beside each field. */
export function checkKey(
  v: KeyFormValues,
  now = Date.now(),
): { ok: true; input: CreateKey } | { ok: false; errors: KeyErrors } {
  const errors: KeyErrors = {}
  const name = v.name.trim()
  if (!name) errors.name = 'give the key a name, e.g. the service that will use it'
  if (v.rules.length === 0) errors.rules = 'add at least one rule: a key without rules may do nothing'
  const rules = v.rules.map((r, i) => {
    const topics = r.topics
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean)
    if (r.actions.length === 0) errors[`rules.${i}.actions`] = 'pick at least one action'
    if (topics.length === 0) errors[`rules.${i}.topics`] = 'enter a topic or pattern, e.g. game.* or chat.>'
    for (const t of topics) {
      const problem = subjectPatternError(t)
      if (problem) errors[`rules.${i}.topics`] ??= `${t}: ${problem}`
    }
    return { effect: r.effect, actions: r.actions, topics }
  })
  let expiresAt: string | undefined
  if (v.expiresAt.trim()) {
    const at = new Date(v.expiresAt).getTime()
    if (Number.isNaN(at)) errors.expiresAt = 'enter a date and time'
    else if (at <= now) errors.expiresAt = 'pick a time in the future'
    else expiresAt = new Date(at).toISOString()
  }
  const rateEventsPerSec = positive(v.rateEventsPerSec, 'rateEventsPerSec', errors)
  const rateBytesPerSec = positive(v.rateBytesPerSec, 'rateBytesPerSec', errors)
  if (Object.keys(errors).length > 0) return { ok: false, errors }
  return { ok: true, input: { name, rules, expiresAt, rateEventsPerSec, rateBytesPerSec } }
}

/** A broker issue path (`rules.0.topics.1`) → the form field that shows it (`rules.0.topics`). */
export function formField(path: string): string {
  const m = /^rules\.(\d+)\.(actions|topics|effect)/.exec(path)
  if (m) return `rules.${m[1]}.${m[2] === 'effect' ? 'actions' : m[2]}`
  return path.split('.')[0] || 'form'
}
