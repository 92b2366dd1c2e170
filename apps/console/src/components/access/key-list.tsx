'use client'

import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { ScrollBox } from '@/components/scroll-box'
import { ErrorNote, Loading, PageHeader } from '@/components/states'
import { Time } from '@/components/time'
import { describeError } from '@/lib/errors'
import { trpc } from '@/lib/trpc'
import { useEscape } from '@/lib/use-escape'
import { KeyForm } from './key-form'
import { NewSecret } from './new-secret'
import { RuleSummary } from './rule-summary'

type Key = Awaited<ReturnType<typeof trpc.keys.list.query>>[number]

function state(k: Key, now: number): { label: string; tone: string } {
  if (k.revokedAt) return { label: 'revoked', tone: 'down' }
  if (k.expiresAt && Date.parse(k.expiresAt) <= now) return { label: 'expired', tone: 'degraded' }
  return { label: 'active', tone: 'ok' }
}

/** API keys: list, create (secret shown once), revoke. */
export function KeyList() {
  const qc = useQueryClient()
  const [creating, setCreating] = useState(false)
  const opener = useEscape(creating, () => setCreating(false))
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null)
  const [revokeError, setRevokeError] = useState<string | null>(null)
  const keys = useQuery({
    queryKey: ['keys.list'],
    queryFn: () => trpc.keys.list.query(),
    refetchInterval: 5000,
  })

  async function revoke(k: Key) {
    if (!window.confirm(`Revoke key “${k.name}” (${k.id})? Everything using it is refused from now on.`))
      return
    setRevokeError(null)
    try {
      await trpc.keys.revoke.mutate({ id: k.id })
    } catch (e) {
      setRevokeError(describeError(e))
    }
    await qc.invalidateQueries({ queryKey: ['keys.list'] })
  }

  const now = Date.now()
  return (
    <>
      <PageHeader title="Access keys">
        {!creating && !created && (
          <button type="button" className="primary" ref={opener} onClick={() => setCreating(true)}>
            New key
          </button>
        )}
      </PageHeader>
      {created && <NewSecret name={created.name} secret={created.secret} onDone={() => setCreated(null)} />}
      {creating && (
        <section className="panel">
          <h2>New API key</h2>
          <KeyForm
            onCancel={() => setCreating(false)}
            onCreate={async (input) => {
              const answer = await trpc.keys.create.mutate(input)
              setCreating(false)
              setCreated({ name: answer.name, secret: answer.key })
              await qc.invalidateQueries({ queryKey: ['keys.list'] })
            }}
          />
        </section>
      )}
      {revokeError && <ErrorNote error={new Error(revokeError)} title="The key was not revoked." />}
      {keys.error && <ErrorNote error={keys.error} title="The keys cannot load." />}
      {keys.isPending && <Loading what="keys" />}
      {keys.data?.length === 0 && (
        <div className="empty">
          <h2>No keys</h2>
          With authentication off the broker needs none; create one to give a service its own permissions.
        </div>
      )}
      {keys.data && keys.data.length > 0 && (
        <ScrollBox as="div" className="table-scroll">
          <table data-testid="keys-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Id</th>
                <th>Rules</th>
                <th>Rate limits</th>
                <th>Created</th>
                <th>Expires</th>
                <th>State</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => {
                const s = state(k, now)
                return (
                  <tr key={k.id} data-key-id={k.id} className={k.revokedAt ? 'revoked' : undefined}>
                    <td className="wrap">{k.name}</td>
                    <td className="mono">{k.id}</td>
                    <td className="wrap">
                      <RuleSummary rules={k.rules} />
                    </td>
                    <td>
                      {k.rateEventsPerSec || k.rateBytesPerSec
                        ? [
                            k.rateEventsPerSec && `${k.rateEventsPerSec.toLocaleString('en-US')} events/s`,
                            k.rateBytesPerSec && `${k.rateBytesPerSec.toLocaleString('en-US')} B/s`,
                          ]
                            .filter(Boolean)
                            .join(', ')
                        : '—'}
                    </td>
                    <td>
                      <Time value={k.createdAt} />
                    </td>
                    <td>{k.expiresAt ? <Time value={k.expiresAt} /> : 'never'}</td>
                    <td data-testid="key-state">
                      <span className={`badge ${s.tone}`}>{s.label}</span>
                      {k.revokedAt && (
                        <div className="muted">
                          <Time value={k.revokedAt} />
                        </div>
                      )}
                    </td>
                    <td>
                      {!k.revokedAt && (
                        <button type="button" onClick={() => revoke(k)}>
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </ScrollBox>
      )}
    </>
  )
}
