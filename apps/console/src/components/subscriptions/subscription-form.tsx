'use client'

import { SUBSCRIPTION_DEFAULTS } from '@questlog/protocol'
import type { ReactNode } from 'react'
import { formErrors } from '@/lib/errors'
import { useCheckedForm } from '@/lib/use-checked-form'
import { POSITION_KINDS, POSITION_LABELS, type PositionKind, positionHint } from './position'
import {
  checkSubscription,
  EMPTY_SUBSCRIPTION,
  formField,
  type SubscriptionErrors,
  type SubscriptionFormValues,
} from './subscription-values'

interface Props {
  /** Creates the checked subscription; may throw the broker's error. */
  onCreate(input: Extract<ReturnType<typeof checkSubscription>, { ok: true }>['input']): Promise<void>
  onCancel(): void
}

/** The broker's refusal, field by field (its issue paths name the fields). */
const brokerErrors = (err: unknown): SubscriptionErrors =>
  formErrors(err, formField, { subscription_exists: 'name', topic_not_found: 'topic' }) as SubscriptionErrors

/** Create a subscription; errors appear beside the field they concern. */
export function SubscriptionForm({ onCreate, onCancel }: Props) {
  const { v, set, errors, busy, submit } = useCheckedForm({
    empty: EMPTY_SUBSCRIPTION,
    check: checkSubscription,
    brokerErrors,
    send: onCreate,
  })

  const field = (name: keyof SubscriptionFormValues, label: string, control: ReactNode, hint: string) => (
    <div className="field">
      <label htmlFor={`sub-${name}`}>{label}</label>
      {control}
      {errors[name] ? (
        <span className="field-error" id={`sub-${name}-msg`} data-testid={`sub-error-${name}`}>
          {errors[name]}
        </span>
      ) : (
        <span className="hint" id={`sub-${name}-msg`}>
          {hint}
        </span>
      )}
    </div>
  )
  const input = (
    name: 'name' | 'topic' | 'typeFilter' | 'fromValue' | 'ackWaitMs' | 'maxDeliveries',
    placeholder?: string,
  ) => (
    <input
      id={`sub-${name}`}
      value={v[name]}
      placeholder={placeholder}
      aria-invalid={errors[name] ? true : undefined}
      aria-describedby={`sub-${name}-msg`}
      onChange={(e) => set({ [name]: e.target.value })}
    />
  )
  const queue = v.mode === 'queue'

  return (
    <form className="form" onSubmit={submit} noValidate aria-label="New subscription">
      {field('name', 'Name', input('name', 'analytics'), "Letters, digits, '_' and '-', dotted")}
      {field(
        'topic',
        'Topic or pattern',
        input('topic', 'game.*'),
        "A topic, or a pattern: 'game.*', 'game.>'",
      )}
      {field(
        'mode',
        'Mode',
        <select
          id="sub-mode"
          value={v.mode}
          onChange={(e) => set({ mode: e.target.value as 'stream' | 'queue' })}
        >
          <option value="stream">stream: consumer group, ordered per partition</option>
          <option value="queue">queue: any member, per-event acks</option>
        </select>,
        queue
          ? 'Naks and missed acks are redelivered, then dead-lettered'
          : 'Partitions are shared among members',
      )}
      {queue &&
        field(
          'ordering',
          'Ordering',
          <select
            id="sub-ordering"
            value={v.ordering}
            aria-invalid={errors.ordering ? true : undefined}
            aria-describedby="sub-ordering-msg"
            onChange={(e) => set({ ordering: e.target.value as 'none' | 'key' })}
          >
            <option value="none">none: any order, all members at once</option>
            <option value="key">key: one key's events one at a time, in order</option>
          </select>,
          v.ordering === 'key'
            ? 'The next event of a key waits for the ack of the one before; keys run in parallel'
            : 'Events may be processed in any order',
        )}
      {field(
        'typeFilter',
        'Type filter',
        input('typeFilter', 'every type'),
        "Optional subject pattern: 'game.kill'",
      )}
      {field(
        'from',
        'Start at',
        <select id="sub-from" value={v.from} onChange={(e) => set({ from: e.target.value as PositionKind })}>
          {POSITION_KINDS.map((k) => (
            <option key={k} value={k}>
              {POSITION_LABELS[k]}
            </option>
          ))}
        </select>,
        'Where a new subscription begins reading',
      )}
      {(v.from === 'offset' || v.from === 'time') &&
        field(
          'fromValue',
          v.from === 'offset' ? 'Start offset' : 'Start time',
          input('fromValue', v.from === 'offset' ? '0' : '1h'),
          positionHint(v.from),
        )}
      {field(
        'ackWaitMs',
        'Ack wait (ms)',
        input('ackWaitMs', String(SUBSCRIPTION_DEFAULTS.ackWaitMs)),
        queue ? 'Unacked deliveries are redelivered after this' : 'Used in queue mode',
      )}
      {field(
        'maxDeliveries',
        'Max deliveries',
        input('maxDeliveries', String(SUBSCRIPTION_DEFAULTS.maxDeliveries)),
        queue ? 'Then the event goes to the dead letters' : 'Used in queue mode',
      )}
      {errors.form && (
        <div className="error-note form-actions" role="alert">
          {errors.form}
        </div>
      )}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create subscription'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  )
}
