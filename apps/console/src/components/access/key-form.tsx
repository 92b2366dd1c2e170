'use client'

import type { CreateKey } from '@questlog/protocol'
import { formErrors } from '@/lib/errors'
import { useCheckedForm } from '@/lib/use-checked-form'
import { checkKey, EMPTY_KEY, formField, type KeyErrors } from './key-values'
import { RulesEditor } from './rules-editor'

interface Props {
  /** Creates the checked key; may throw the broker's error. */
  onCreate(input: CreateKey): Promise<void>
  onCancel(): void
}

const brokerErrors = (err: unknown): KeyErrors => formErrors(err, formField) as KeyErrors

/** A new API key: name, rules, optional expiry and publish rate limits. */
export function KeyForm({ onCreate, onCancel }: Props) {
  const { v, set, errors, busy, submit } = useCheckedForm({
    empty: EMPTY_KEY,
    check: checkKey,
    brokerErrors,
    send: onCreate,
  })

  const field = (
    name: 'name' | 'expiresAt' | 'rateEventsPerSec' | 'rateBytesPerSec',
    label: string,
    hint: string,
    type = 'text',
  ) => (
    <div className="field">
      <label htmlFor={`key-${name}`}>{label}</label>
      <input
        id={`key-${name}`}
        type={type}
        value={v[name]}
        aria-invalid={errors[name] ? true : undefined}
        aria-describedby={`key-${name}-msg`}
        onChange={(e) => set({ [name]: e.target.value })}
      />
      {errors[name] ? (
        <span className="field-error" id={`key-${name}-msg`} data-testid={`error-${name}`}>
          {errors[name]}
        </span>
      ) : (
        <span className="hint" id={`key-${name}-msg`}>
          {hint}
        </span>
      )}
    </div>
  )

  return (
    <form className="form" onSubmit={submit} noValidate>
      {field('name', 'Name', 'Who uses it, e.g. match-server-eu')}
      {field('expiresAt', 'Expires', 'Optional, your local time; empty never expires', 'datetime-local')}
      {field('rateEventsPerSec', 'Events per second', 'Optional publish limit; past it, 429')}
      {field('rateBytesPerSec', 'Bytes per second', 'Optional publish limit on payload bytes')}
      <RulesEditor rules={v.rules} errors={errors} onChange={(rules) => set({ rules })} />
      {errors.form && (
        <div className="error-note" role="alert" style={{ gridColumn: '1 / -1' }}>
          {errors.form}
        </div>
      )}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create key'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  )
}
