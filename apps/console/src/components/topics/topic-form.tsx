'use client'

import { type CleanupPolicy, isCompacted } from '@questlog/protocol'
import { type FormEvent, useState } from 'react'
import { fieldIssues, questlogError } from '@/lib/errors'
import { formatBytes, formatDuration } from '@/lib/format'
import type { FieldErrors, TopicFormValues } from './topic-values'

interface Props {
  initial: TopicFormValues
  mode: 'create' | 'edit'
  /** Checks the values; returns field errors, or submits and may throw the broker's error. */
  onSubmit(values: TopicFormValues): Promise<FieldErrors | null>
  onCancel(): void
}

interface FieldSpec {
  name: Exclude<keyof TopicFormValues, 'cleanup'>
  label: string
  hint: (v: string) => string
  placeholder?: string
}

const num = (v: string) => (v.trim() === '' || !Number.isFinite(Number(v)) ? null : Number(v))

const FIELDS: FieldSpec[] = [
  { name: 'name', label: 'Name', hint: () => "Letters, digits, '_' and '-', dotted: game.events" },
  { name: 'partitions', label: 'Partitions', hint: () => 'Events with the same key share a partition' },
  {
    name: 'retentionMs',
    label: 'Retention time (ms)',
    placeholder: 'keep forever',
    hint: (v) => (num(v) === null ? 'Empty: events are kept forever' : `= ${formatDuration(num(v))}`),
  },
  {
    name: 'retentionBytes',
    label: 'Retention size (bytes)',
    placeholder: 'no limit',
    hint: (v) => (num(v) === null ? 'Empty: no size limit' : `= ${formatBytes(num(v))}`),
  },
  {
    name: 'dedupeWindowMs',
    label: 'Dedupe window (ms)',
    placeholder: '120000',
    hint: (v) => (num(v) === null ? 'Default: 2 min' : `= ${formatDuration(num(v))}`),
  },
  {
    name: 'maxEventBytes',
    label: 'Largest event (bytes)',
    placeholder: '1048576',
    hint: (v) => (num(v) === null ? 'Default: 1 MiB' : `= ${formatBytes(num(v))}`),
  },
]

/** Shown when the topic compacts. */
const DELETE_RETENTION: FieldSpec = {
  name: 'deleteRetentionMs',
  label: 'Delete retention (ms)',
  placeholder: '86400000',
  hint: (v) =>
    num(v) === null
      ? 'Default: 1 day; a tombstone (data: null) stays readable this long'
      : `= ${formatDuration(num(v))}, then the tombstoned key is removed`,
}

const CLEANUP_LABELS: Record<CleanupPolicy, string> = {
  delete: 'delete: drop old segments past the retention',
  compact: 'compact: keep the latest event of each key',
  'compact,delete': 'compact,delete: compact, and drop past the retention',
}

/** Create or edit a topic; errors appear beside the field they concern. */
export function TopicForm({ initial, mode, onSubmit, onCancel }: Props) {
  const [values, setValues] = useState(initial)
  const [errors, setErrors] = useState<FieldErrors>({})
  const [busy, setBusy] = useState(false)

  async function submit(e: FormEvent) {
    e.preventDefault()
    setBusy(true)
    try {
      setErrors((await onSubmit(values)) ?? {})
    } catch (err) {
      const qe = questlogError(err)
      const byField = fieldIssues(err)
      if (qe?.code === 'topic_exists') byField.name = qe.message
      setErrors(Object.keys(byField).length ? byField : { form: qe?.message ?? String(err) })
    } finally {
      setBusy(false)
    }
  }

  const input = (f: FieldSpec) => {
    const id = `topic-${f.name}`
    const error = errors[f.name]
    return (
      <div className="field" key={f.name}>
        <label htmlFor={id}>{f.label}</label>
        <input
          id={id}
          name={f.name}
          value={values[f.name]}
          placeholder={f.placeholder}
          disabled={mode === 'edit' && f.name === 'name'}
          inputMode={f.name === 'name' ? 'text' : 'numeric'}
          aria-invalid={error ? true : undefined}
          aria-describedby={`${id}-msg`}
          onChange={(e) => setValues({ ...values, [f.name]: e.target.value })}
        />
        {error ? (
          <span className="field-error" id={`${id}-msg`} data-testid={`error-${f.name}`}>
            {error}
          </span>
        ) : (
          <span className="hint" id={`${id}-msg`}>
            {f.hint(values[f.name])}
          </span>
        )}
      </div>
    )
  }

  return (
    <form
      className="form"
      onSubmit={submit}
      noValidate
      aria-label={mode === 'create' ? 'New topic' : 'Topic settings'}
    >
      {FIELDS.map(input)}
      <div className="field">
        <label htmlFor="topic-cleanup">Cleanup</label>
        <select
          id="topic-cleanup"
          name="cleanup"
          value={values.cleanup}
          disabled={mode === 'edit'}
          aria-invalid={errors.cleanup ? true : undefined}
          aria-describedby="topic-cleanup-msg"
          onChange={(e) => setValues({ ...values, cleanup: e.target.value as CleanupPolicy })}
        >
          {(Object.keys(CLEANUP_LABELS) as CleanupPolicy[]).map((c) => (
            <option key={c} value={c}>
              {CLEANUP_LABELS[c]}
            </option>
          ))}
        </select>
        {errors.cleanup ? (
          <span className="field-error" id="topic-cleanup-msg" data-testid="error-cleanup">
            {errors.cleanup}
          </span>
        ) : (
          <span className="hint" id="topic-cleanup-msg">
            {mode === 'edit' ? 'Fixed at creation' : 'Compacted topics serve the latest value of each key'}
          </span>
        )}
      </div>
      {isCompacted(values.cleanup) && input(DELETE_RETENTION)}
      {errors.form && (
        <div className="error-note form-actions" role="alert">
          {errors.form}
        </div>
      )}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : mode === 'create' ? 'Create topic' : 'Save settings'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  )
}
