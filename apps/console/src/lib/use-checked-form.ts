'use client'

import { type FormEvent, useState } from 'react'

/** What a form's own check makes of its values: the request, or errors by field. */
export type Checked<I, E> = { ok: true; input: I } | { ok: false; errors: E }

/**
 * A form checked in the browser before it is sent: its values, the errors by
 * field (the check's, or the broker's refusal mapped onto the fields), and a
 * submit that sends only what passed the check.
 */
export function useCheckedForm<V, I, E extends object>(o: {
  empty: V
  check(values: V): Checked<I, E>
  /** The broker's refusal, field by field. */
  brokerErrors(err: unknown): E
  send(input: I): Promise<void>
}) {
  const [values, setValues] = useState<V>(o.empty)
  const [errors, setErrors] = useState<E>({} as E)
  const [busy, setBusy] = useState(false)
  const set = (patch: Partial<V>) => setValues({ ...values, ...patch })

  async function submit(e: FormEvent) {
    e.preventDefault()
    const checked = o.check(values)
    if (!checked.ok) return setErrors(checked.errors)
    setBusy(true)
    try {
      await o.send(checked.input)
      setErrors({} as E)
    } catch (err) {
      setErrors(o.brokerErrors(err))
    } finally {
      setBusy(false)
    }
  }

  return { v: values, set, errors, busy, submit }
}
