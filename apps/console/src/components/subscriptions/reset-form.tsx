'use client'

import { type FormEvent, useState } from 'react'
import { describeError, fieldIssues } from '@/lib/errors'
import { trpc } from '@/lib/trpc'
import { POSITION_KINDS, POSITION_LABELS, type PositionKind, parsePosition, positionHint } from './position'

/** Moves a subscription's position on every partition; pending deliveries are not touched. */
export function ResetForm({ name, onDone }: { name: string; onDone(): void }) {
  const [kind, setKind] = useState<PositionKind>('earliest')
  const [value, setValue] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  async function submit(e: FormEvent) {
    e.preventDefault()
    const to = parsePosition(kind, value)
    if (!to.ok) return setError(to.error)
    if (!window.confirm(`Move ${name} to ${POSITION_LABELS[kind]}${value ? ` ${value}` : ''}?`)) return
    setBusy(true)
    try {
      await trpc.subscriptions.reset.mutate({ name, to: to.value })
      setError(null)
      onDone()
    } catch (err) {
      setError(Object.values(fieldIssues(err))[0] ?? describeError(err))
    } finally {
      setBusy(false)
    }
  }

  const needsValue = kind === 'offset' || kind === 'time'
  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Reset position">
      <div className="field">
        <label htmlFor="reset-to">Move to</label>
        <select id="reset-to" value={kind} onChange={(e) => setKind(e.target.value as PositionKind)}>
          {POSITION_KINDS.map((k) => (
            <option key={k} value={k}>
              {POSITION_LABELS[k]}
            </option>
          ))}
        </select>
      </div>
      {needsValue && (
        <div className="field">
          <label htmlFor="reset-value">{kind === 'offset' ? 'Offset' : 'Time'}</label>
          <input
            id="reset-value"
            value={value}
            aria-invalid={error ? true : undefined}
            onChange={(e) => setValue(e.target.value)}
          />
          <span className="hint">{positionHint(kind)}</span>
        </div>
      )}
      {error && (
        <div className="error-note form-actions" role="alert" data-testid="reset-error">
          {error}
        </div>
      )}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Resetting…' : 'Reset position'}
        </button>
      </div>
    </form>
  )
}
