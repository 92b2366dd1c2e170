'use client'

import { useQuery } from '@tanstack/react-query'
import { useState } from 'react'
import { ErrorNote, Loading, PageHeader } from '@/components/states'
import { formatTime } from '@/lib/format'
import { trpc } from '@/lib/trpc'
import { describeAction, OUTCOME_TONE, OUTCOMES } from './audit-entry'

/** Who did what, when: admin actions and refused requests, newest first, refreshed live. */
export function AuditLog() {
  const [outcome, setOutcome] = useState('')
  const entries = useQuery({
    queryKey: ['audit.list', outcome],
    queryFn: () => trpc.audit.list.query({ limit: 200, outcome: outcome || undefined }),
    refetchInterval: 2000,
  })
  // names for the key ids (a revoked key keeps its name)
  const keys = useQuery({
    queryKey: ['keys.list'],
    queryFn: () => trpc.keys.list.query(),
    refetchInterval: 10_000,
  })
  const names = new Map((keys.data ?? []).map((k) => [k.id, k.name]))

  return (
    <>
      <PageHeader title="Audit log">
        <span className="muted">
          <span className="live-dot" style={{ marginRight: 6 }} aria-hidden="true" />
          live
        </span>
        <fieldset className="segmented" aria-label="Outcome" style={{ padding: 0, margin: 0 }}>
          {OUTCOMES.map((o) => (
            <button
              key={o.value}
              type="button"
              aria-pressed={outcome === o.value}
              onClick={() => setOutcome(o.value)}
            >
              {o.label}
            </button>
          ))}
        </fieldset>
      </PageHeader>
      <p className="muted">
        Admin actions and every refused request (no or bad key: 401; a key without the permission: 403), the
        latest 200.
      </p>
      {entries.error && <ErrorNote error={entries.error} title="The audit log cannot load." />}
      {entries.isPending && <Loading what="the audit log" />}
      {entries.data?.length === 0 && (
        <div className="empty">
          <h2>Nothing recorded{outcome ? ' with this outcome' : ''}</h2>
          Admin actions and refused requests appear here as they happen.
        </div>
      )}
      {entries.data && entries.data.length > 0 && (
        <table data-testid="audit-table">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>What</th>
              <th>Target</th>
              <th>Outcome</th>
              <th className="num">Status</th>
            </tr>
          </thead>
          <tbody>
            {entries.data.map((e) => {
              const d = describeAction(e.action, e.target)
              const status = typeof e.details.status === 'number' ? e.details.status : null
              return (
                <tr key={e.id} data-testid="audit-entry" data-outcome={e.outcome} data-key-id={e.keyId ?? ''}>
                  <td>{formatTime(e.at)}</td>
                  <td className="wrap">
                    {e.keyId ? (
                      <>
                        {names.get(e.keyId) ?? 'unknown key'} <span className="mono muted">{e.keyId}</span>
                      </>
                    ) : (
                      <span className="muted">no valid key</span>
                    )}
                  </td>
                  <td className="mono">{d.what}</td>
                  <td className="mono wrap" data-testid="audit-target">
                    {d.target}
                  </td>
                  <td>
                    <span className={`badge ${OUTCOME_TONE[e.outcome] ?? ''}`}>{e.outcome}</span>
                  </td>
                  <td className="num">{status ?? '—'}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
    </>
  )
}
