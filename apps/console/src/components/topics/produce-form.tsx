'use client'

import { type FormEvent, useState } from 'react'
import { describeError, fieldIssues } from '@/lib/errors'
import { trpc } from '@/lib/trpc'

interface Props {
  topic: string
  partitions: number
  onProduced(): void
}

type Errors = Partial<Record<'type' | 'key' | 'headers' | 'data' | 'form', string>>

function parseJson(text: string, what: string): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(text) }
  } catch (e) {
    return { error: `${what} is not valid JSON: ${(e as Error).message}` }
  }
}

/** Publishes one event through the admin API and says where it was stored. */
export function ProduceForm({ topic, partitions, onProduced }: Props) {
  const [type, setType] = useState('')
  const [key, setKey] = useState('')
  const [partition, setPartition] = useState('')
  const [headers, setHeaders] = useState('{}')
  const [data, setData] = useState('{\n  "hello": "world"\n}')
  const [errors, setErrors] = useState<Errors>({})
  const [result, setResult] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  async function submit(e: FormEvent) {
    e.preventDefault()
    setResult(null)
    const next: Errors = {}
    const payload = parseJson(data, 'The payload')
    if (payload.error) next.data = payload.error
    const hdrs = parseJson(headers || '{}', 'The headers')
    if (hdrs.error) next.headers = hdrs.error
    else if (typeof hdrs.value !== 'object' || hdrs.value === null || Array.isArray(hdrs.value)) {
      next.headers = 'Headers are a JSON object of strings, e.g. {"traceparent": "…"}'
    }
    setErrors(next)
    if (Object.keys(next).length) return
    setBusy(true)
    try {
      const answer = await trpc.events.publish.mutate({
        topic,
        events: [
          {
            data: payload.value as never,
            ...(type.trim() && { type: type.trim() }),
            ...(key.trim() && { key: key.trim() }),
            ...(partition !== '' && { partition: Number(partition) }),
            headers: hdrs.value as Record<string, string>,
          },
        ],
      })
      const receipt = 'receipts' in answer ? answer.receipts[0] : answer
      setResult(receipt ? `Stored in partition ${receipt.partition} at offset ${receipt.offset}.` : 'Stored.')
      onProduced()
    } catch (err) {
      const byField = fieldIssues(err)
      setErrors(Object.keys(byField).length ? byField : { form: describeError(err) })
    } finally {
      setBusy(false)
    }
  }

  const err = (f: keyof Errors) =>
    errors[f] ? (
      <span className="field-error" data-testid={`produce-error-${f}`}>
        {errors[f]}
      </span>
    ) : null

  return (
    <form className="form" onSubmit={submit} noValidate aria-label="Produce a test event">
      <div className="field">
        <label htmlFor="produce-type">Type</label>
        <input id="produce-type" value={type} placeholder={topic} onChange={(e) => setType(e.target.value)} />
        {err('type') ?? <span className="hint">Dotted subject; defaults to the topic name</span>}
      </div>
      <div className="field">
        <label htmlFor="produce-key">Key</label>
        <input id="produce-key" value={key} placeholder="none" onChange={(e) => setKey(e.target.value)} />
        {err('key') ?? <span className="hint">Same key, same partition, in order</span>}
      </div>
      <div className="field">
        <label htmlFor="produce-partition">Partition</label>
        <select id="produce-partition" value={partition} onChange={(e) => setPartition(e.target.value)}>
          <option value="">chosen by the broker</option>
          {[...Array(partitions).keys()].map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="produce-headers">Headers (JSON)</label>
        <textarea id="produce-headers" value={headers} onChange={(e) => setHeaders(e.target.value)} />
        {err('headers')}
      </div>
      <div className="field" style={{ gridColumn: 'span 2' }}>
        <label htmlFor="produce-data">Payload (JSON)</label>
        <textarea id="produce-data" rows={5} value={data} onChange={(e) => setData(e.target.value)} />
        {err('data')}
      </div>
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Publishing…' : 'Publish'}
        </button>
        {result && (
          <span className="ok-note" role="status">
            {result}
          </span>
        )}
        {errors.form && (
          <span className="error-note" role="alert">
            {errors.form}
          </span>
        )}
      </div>
    </form>
  )
}
