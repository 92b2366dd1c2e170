'use client'

import type { CreateReplay } from '@questlog/protocol'
import type { ReactNode } from 'react'
import { formErrors } from '@/lib/errors'
import { useCheckedForm } from '@/lib/use-checked-form'
import {
  checkReplay,
  EMPTY_REPLAY,
  type ReplayErrors,
  type ReplayFormValues,
  replayField,
} from './replay-values'

type TextField = Exclude<keyof ReplayFormValues, 'range' | 'target'>

const brokerErrors = (err: unknown): ReplayErrors => formErrors(err, replayField) as ReplayErrors

/** Start a replay job; errors appear beside the field they concern. */
export function ReplayForm({
  onStart,
  onCancel,
}: {
  onStart(input: CreateReplay): Promise<void>
  onCancel(): void
}) {
  const { v, set, errors, busy, submit } = useCheckedForm({
    empty: EMPTY_REPLAY,
    check: checkReplay,
    brokerErrors,
    send: onStart,
  })

  const field = (name: keyof ReplayFormValues, label: string, control: ReactNode, hint = '') => (
    <div className="field">
      <label htmlFor={`replay-${name}`}>{label}</label>
      {control}
      {errors[name] ? (
        <span className="field-error" data-testid={`replay-error-${name}`}>
          {errors[name]}
        </span>
      ) : (
        <span className="hint">{hint}</span>
      )}
    </div>
  )
  const input = (name: TextField, placeholder?: string) => (
    <input
      id={`replay-${name}`}
      value={v[name]}
      placeholder={placeholder}
      aria-invalid={errors[name] ? true : undefined}
      onChange={(e) => set({ [name]: e.target.value })}
    />
  )

  return (
    <form className="form" onSubmit={submit} noValidate aria-label="New replay job">
      {field('topic', 'Topic', input('topic', 'game.events'), 'The topic whose events are replayed')}
      {field(
        'range',
        'Range',
        <select
          id="replay-range"
          value={v.range}
          onChange={(e) => set({ range: e.target.value as 'offset' | 'time' })}
        >
          <option value="offset">by offset</option>
          <option value="time">by time</option>
        </select>,
      )}
      {v.range === 'offset' ? (
        <>
          {field('fromOffset', 'From offset', input('fromOffset', '0'), 'Inclusive, on every partition')}
          {field('toOffset', 'To offset', input('toOffset', 'the end'), 'Exclusive; empty: up to now')}
        </>
      ) : (
        <>
          {field('since', 'Since', input('since', '1h'), "Inclusive: ISO-8601, epoch ms, or '15m' ago")}
          {field('until', 'Until', input('until', 'now'), 'Exclusive; empty: up to now')}
        </>
      )}
      {field('partition', 'Partition', input('partition', 'every partition'), 'Optional: one partition only')}
      {field('type', 'Filter: type', input('type', 'every type'), "Subject pattern: 'game.kill', 'game.>'")}
      {field('key', 'Filter: key', input('key', 'every key'), 'Only events with this key')}
      {field(
        'target',
        'Into',
        <select
          id="replay-target"
          value={v.target}
          onChange={(e) => set({ target: e.target.value as 'subscription' | 'topic' })}
        >
          <option value="subscription">a queue subscription (created when missing)</option>
          <option value="topic">another topic</option>
        </select>,
      )}
      {field(
        'targetName',
        v.target === 'subscription' ? 'Target subscription' : 'Target topic',
        input('targetName', v.target === 'subscription' ? 'analytics-replay' : 'game.events.replayed'),
      )}
      {field(
        'maxEventsPerSecond',
        'Pace (events/s)',
        input('maxEventsPerSecond', 'unlimited'),
        'Optional: leaves room for live traffic',
      )}
      {errors.form && (
        <div className="error-note form-actions" role="alert">
          {errors.form}
        </div>
      )}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Starting…' : 'Start replay'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  )
}
