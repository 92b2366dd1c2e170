'use client'

import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { ScrollBox } from '@/components/scroll-box'
import { ErrorNote, Loading } from '@/components/states'
import { Time } from '@/components/time'
import { describeError } from '@/lib/errors'
import { trpc } from '@/lib/trpc'

/** A subscription's dead letters, live, with redrive of the selected ones or all of them. */
export function DeadLetterList({ name }: { name: string }) {
  const qc = useQueryClient()
  const [selected, setSelected] = useState<Set<number>>(new Set())
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null)
  const [busy, setBusy] = useState(false)
  const letters = useQuery({
    queryKey: ['subscriptions.deadLetters', name],
    queryFn: () => trpc.subscriptions.deadLetters.query({ name, limit: 200 }),
    refetchInterval: 2000,
  })
  const rows = letters.data ?? []
  const chosen = rows.filter((r) => selected.has(r.id)).map((r) => r.id)

  async function redrive(select: { ids: number[] } | { all: true }) {
    const what = 'all' in select ? 'every dead letter' : `${select.ids.length} selected`
    if (!window.confirm(`Redrive ${what} of ${name}? The events are delivered again.`)) return
    setBusy(true)
    try {
      const { redriven } = await trpc.subscriptions.redrive.mutate({ name, select })
      setNote({ ok: true, text: `Redriven ${redriven} event${redriven === 1 ? '' : 's'}: delivered again.` })
      setSelected(new Set())
      await qc.invalidateQueries({ queryKey: ['subscriptions.deadLetters', name] })
      await qc.invalidateQueries({ queryKey: ['subscriptions.get', name] })
    } catch (e) {
      setNote({ ok: false, text: describeError(e) })
    } finally {
      setBusy(false)
    }
  }

  const toggle = (id: number) => {
    const next = new Set(selected)
    if (next.has(id)) next.delete(id)
    else next.add(id)
    setSelected(next)
  }

  return (
    <section className="panel" id="dead-letters" aria-label="Dead letters">
      <div className="toolbar">
        <h2 style={{ margin: 0 }}>Dead letters</h2>
        <button type="button" disabled={busy || chosen.length === 0} onClick={() => redrive({ ids: chosen })}>
          Redrive selected ({chosen.length})
        </button>
        <button type="button" disabled={busy || rows.length === 0} onClick={() => redrive({ all: true })}>
          Redrive all
        </button>
        {note && (
          <span className={note.ok ? 'ok-note' : 'error-note'} role={note.ok ? 'status' : 'alert'}>
            {note.text}
          </span>
        )}
      </div>
      {letters.error && <ErrorNote error={letters.error} title="The dead letters cannot load." />}
      {letters.isPending && <Loading what="dead letters" />}
      {letters.data && rows.length === 0 && (
        <p className="muted" data-testid="no-dead-letters">
          No dead letters: every event was acked or is still being delivered.
        </p>
      )}
      {rows.length > 0 && (
        <ScrollBox as="div" className="table-scroll">
          <table data-testid="dead-letters-table">
            <thead>
              <tr>
                <th aria-label="Select" />
                <th>Reason</th>
                <th className="num">Deliveries</th>
                <th>Dead since</th>
                <th>Event</th>
                <th>Payload</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-testid="dead-letter" data-id={r.id}>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Select dead letter ${r.id}`}
                      checked={selected.has(r.id)}
                      onChange={() => toggle(r.id)}
                    />
                  </td>
                  <td data-testid="dead-letter-reason">{r.reason}</td>
                  <td className="num" data-testid="dead-letter-deliveries">
                    {r.deliveries}
                  </td>
                  <td>
                    <Time value={r.deadAt} />
                  </td>
                  <td className="mono">
                    {r.topic} · p{r.partition} · #{r.offset}
                    {typeof r.event?.type === 'string' && <div className="muted">{r.event.type}</div>}
                  </td>
                  <td>
                    <ScrollBox className="json" testId="dead-letter-payload">
                      {r.event ? JSON.stringify(r.event.data, null, 2) : 'no longer stored (retention)'}
                    </ScrollBox>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      )}
    </section>
  )
}
