'use client'

import { useQuery } from '@tanstack/react-query'
import { useState } from 'react'
import { ScrollBox } from '@/components/scroll-box'
import { ErrorNote, Loading, PageHeader } from '@/components/states'
import { Time } from '@/components/time'
import { downloadJsonLines } from '@/lib/json-lines'
import { trpc } from '@/lib/trpc'
import { describeAction, OUTCOME_TONE, OUTCOMES } from './audit-entry'

const PAGE = 200

/**
 * Who did what, when: admin actions and refused requests, newest first. The newest page refreshes
 * live; older pages go back by id (`before`), 200 entries at a time, and stay still while read.
 */
export function AuditLog() {
  const [outcome, setOutcome] = useState('')
  // the cursors of the pages above this one; empty on the newest page
  const [cursors, setCursors] = useState<number[]>([])
  const [filter, setFilter] = useState('')
  const before = cursors.at(-1)
  const entries = useQuery({
    queryKey: ['audit.list', outcome, before],
    queryFn: () => trpc.audit.list.query({ limit: PAGE, before, outcome: outcome || undefined }),
    refetchInterval: before === undefined ? 2000 : false,
  })
  // names for the key ids (a revoked key keeps its name)
  const keys = useQuery({
    queryKey: ['keys.list'],
    queryFn: () => trpc.keys.list.query(),
    refetchInterval: 10_000,
  })
  const names = new Map((keys.data ?? []).map((k) => [k.id, k.name]))
  const page = entries.data ?? []
  const needle = filter.trim().toLowerCase()
  const shown = needle ? page.filter((e) => searchText(e, names).includes(needle)) : page
  const oldest = page.at(-1)?.id
  const chooseOutcome = (value: string) => {
    setOutcome(value)
    setCursors([])
  }

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
              onClick={() => chooseOutcome(o.value)}
            >
              {o.label}
            </button>
          ))}
        </fieldset>
      </PageHeader>
      <p className="muted">
        Admin actions and every refused request (no or bad key: 401; a key without the permission: 403),{' '}
        {PAGE} a page, newest first.
      </p>
      <search className="toolbar" aria-label="Find in the audit log">
        <div className="field">
          <label htmlFor="audit-filter">Find on this page</label>
          <input
            id="audit-filter"
            type="search"
            value={filter}
            placeholder="key, action, target, status"
            onChange={(e) => setFilter(e.target.value)}
          />
        </div>
        <button
          type="button"
          disabled={shown.length === 0}
          onClick={() => downloadJsonLines(shown, 'audit.jsonl')}
        >
          Export {shown.length} as JSON lines
        </button>
      </search>
      {entries.error && <ErrorNote error={entries.error} title="The audit log cannot load." />}
      {entries.isPending && <Loading what="the audit log" />}
      {entries.data && entries.data.length > 0 && shown.length === 0 && (
        <div className="empty">Nothing on this page matches “{filter.trim()}”.</div>
      )}
      {entries.data?.length === 0 && (
        <div className="empty">
          <h2>Nothing recorded{outcome ? ' with this outcome' : ''}</h2>
          Admin actions and refused requests appear here as they happen.
        </div>
      )}
      {shown.length > 0 && (
        <ScrollBox as="div" className="table-scroll">
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
              {shown.map((e) => {
                const d = describeAction(e.action, e.target)
                const status = typeof e.details.status === 'number' ? e.details.status : null
                return (
                  <tr
                    key={e.id}
                    data-testid="audit-entry"
                    data-outcome={e.outcome}
                    data-key-id={e.keyId ?? ''}
                  >
                    <td>
                      <Time value={e.at} />
                    </td>
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
        </ScrollBox>
      )}
      <nav className="pager" aria-label="Audit log pages">
        <span className="muted" data-testid="audit-page">
          {before === undefined ? 'Newest entries, live' : `Entries before #${before}`}
        </span>
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors([])}>
          Newest
        </button>
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Newer
        </button>
        <button
          type="button"
          disabled={oldest === undefined || page.length < PAGE}
          onClick={() => oldest !== undefined && setCursors([...cursors, oldest])}
        >
          Older
        </button>
      </nav>
    </>
  )
}

type Entry = Awaited<ReturnType<typeof trpc.audit.list.query>>[number]

/** What the filter looks in: the row's words as shown, and its key's name. */
function searchText(e: Entry, names: Map<string, string>): string {
  const d = describeAction(e.action, e.target)
  const status = typeof e.details.status === 'number' ? String(e.details.status) : ''
  return [e.keyId ? names.get(e.keyId) : 'no valid key', e.keyId, d.what, d.target, e.outcome, status]
    .filter(Boolean)
    .join(' ')
    .toLowerCase()
}
