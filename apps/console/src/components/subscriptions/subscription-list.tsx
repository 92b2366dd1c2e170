'use client'

import { useQuery, useQueryClient } from '@tanstack/react-query'
import Link from 'next/link'
import { useRouter } from 'next/navigation'
import { useState } from 'react'
import { ErrorNote, Loading, PageHeader } from '@/components/states'
import { formatNumber } from '@/lib/format'
import { trpc } from '@/lib/trpc'
import { SubscriptionForm } from './subscription-form'

export function SubscriptionList() {
  const [creating, setCreating] = useState(false)
  const router = useRouter()
  const qc = useQueryClient()
  const subs = useQuery({
    queryKey: ['subscriptions.list'],
    queryFn: () => trpc.subscriptions.list.query(),
    refetchInterval: 2000,
  })

  return (
    <>
      <PageHeader title="Subscriptions">
        {!creating && (
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            New subscription
          </button>
        )}
      </PageHeader>
      {creating && (
        <section className="panel">
          <h2>New subscription</h2>
          <SubscriptionForm
            onCancel={() => setCreating(false)}
            onCreate={async (input) => {
              const created = await trpc.subscriptions.create.mutate(input)
              await qc.invalidateQueries({ queryKey: ['subscriptions.list'] })
              router.push(`/subscriptions/${encodeURIComponent(created.name)}`)
            }}
          />
        </section>
      )}
      {subs.error && <ErrorNote error={subs.error} title="The subscriptions cannot load." />}
      {subs.isPending && <Loading what="subscriptions" />}
      {subs.data?.length === 0 && (
        <div className="empty">
          <h2>No subscriptions yet</h2>
          Create one with “New subscription”, or from an SDK: consumers then pull and ack its events.
        </div>
      )}
      {subs.data && subs.data.length > 0 && (
        <table data-testid="subscriptions-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Topic</th>
              <th>Mode</th>
              <th className="num">Members</th>
              <th className="num">Lag</th>
              <th className="num">Pending</th>
              <th className="num">Dead letters</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {subs.data.map((s) => (
              <tr key={s.name} data-subscription={s.name}>
                <td>
                  <Link href={`/subscriptions/${encodeURIComponent(s.name)}`}>{s.name}</Link>
                </td>
                <td className="mono">{s.topic}</td>
                <td>{s.mode}</td>
                <td className="num">{s.mode === 'stream' ? s.members.length : '—'}</td>
                <td className="num">{formatNumber(s.lag)}</td>
                <td className="num">{formatNumber(s.pending)}</td>
                <td className="num">{formatNumber(s.deadLetters)}</td>
                <td>
                  <span className={`badge ${s.paused ? 'degraded' : 'ok'}`}>
                    {s.paused ? 'paused' : 'active'}
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  )
}
