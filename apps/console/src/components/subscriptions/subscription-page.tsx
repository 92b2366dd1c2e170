'use client'

import { useQuery, useQueryClient } from '@tanstack/react-query'
import Link from 'next/link'
import { useRouter } from 'next/navigation'
import { useState } from 'react'
import { ErrorNote, Loading, PageHeader } from '@/components/states'
import { describeError, questlogError } from '@/lib/errors'
import { formatDuration, formatNumber } from '@/lib/format'
import { trpc } from '@/lib/trpc'
import { useEscape } from '@/lib/use-escape'
import { DeadLetterList } from './dead-letter-list'
import { LagChart } from './lag-chart'
import { ResetForm } from './reset-form'
import { Members, Partitions } from './subscription-tables'

export function SubscriptionPage({ name }: { name: string }) {
  const [resetting, setResetting] = useState(false)
  useEscape(resetting, () => setResetting(false))
  const [actionError, setActionError] = useState<unknown>(null)
  const qc = useQueryClient()
  const router = useRouter()
  const sub = useQuery({
    queryKey: ['subscriptions.get', name],
    queryFn: () => trpc.subscriptions.get.query({ name }),
    refetchInterval: 1000,
  })

  if (sub.isPending) return <Loading what={`subscription ${name}`} />
  if (sub.error && !sub.data) {
    return (
      <>
        <PageHeader title={name} />
        <ErrorNote
          error={sub.error}
          title={
            questlogError(sub.error)?.code === 'subscription_not_found' ? 'No such subscription.' : undefined
          }
        />
        <Link href="/subscriptions">Back to the subscriptions</Link>
      </>
    )
  }
  const s = sub.data
  const refresh = () => qc.invalidateQueries({ queryKey: ['subscriptions.get', name] })

  async function act(run: () => Promise<unknown>) {
    try {
      await run()
      setActionError(null)
      await refresh()
    } catch (e) {
      setActionError(e)
    }
  }

  async function remove() {
    if (
      !window.confirm(
        `Delete subscription ${name}? Its positions, pending deliveries and dead letters go with it.`,
      )
    )
      return
    try {
      await trpc.subscriptions.delete.mutate({ name })
      await qc.invalidateQueries({ queryKey: ['subscriptions.page'] })
      router.push('/subscriptions')
    } catch (e) {
      window.alert(describeError(e))
    }
  }

  return (
    <>
      <PageHeader title={s.name}>
        {s.paused ? (
          <button
            type="button"
            className="primary"
            onClick={() => act(() => trpc.subscriptions.resume.mutate({ name }))}
          >
            Resume
          </button>
        ) : (
          <button type="button" onClick={() => act(() => trpc.subscriptions.pause.mutate({ name }))}>
            Pause
          </button>
        )}
        <button type="button" onClick={() => setResetting(!resetting)}>
          Reset position
        </button>
        <button type="button" onClick={remove}>
          Delete
        </button>
      </PageHeader>
      {sub.error && <ErrorNote error={sub.error} title="Showing the last known state." />}
      {actionError !== null && <ErrorNote error={actionError} />}
      <div className="cards">
        <Card label="State" value={s.paused ? 'paused' : 'active'} testId="sub-state" />
        <Card label="Mode" value={s.mode} />
        {s.mode === 'queue' && (
          <Card
            label="Ordering"
            value={s.ordering === 'key' ? 'key: in order per key' : 'none'}
            testId="sub-ordering"
          />
        )}
        <Card label="Topic" value={s.topic + (s.typeFilter ? ` · ${s.typeFilter}` : '')} />
        <Card label="Lag" value={formatNumber(s.lag)} testId="sub-lag" />
        <Card label="Pending" value={formatNumber(s.pending)} testId="sub-pending" />
        <Card label="Redelivered" value={formatNumber(s.redelivered)} testId="sub-redelivered" />
        <Card label="Dead letters" value={formatNumber(s.deadLetters)} testId="sub-dead-letters" />
        {s.mode === 'queue' && (
          <Card
            label="Ack wait · max deliveries"
            value={`${formatDuration(s.ackWaitMs)} · ${s.maxDeliveries}`}
          />
        )}
      </div>
      {resetting && (
        <section className="panel">
          <h2>Reset position</h2>
          <ResetForm
            name={name}
            onDone={() => {
              setResetting(false)
              void refresh()
            }}
          />
        </section>
      )}
      <LagChart name={name} />
      <div className="grid">
        <Partitions partitions={s.partitions} />
        <Members mode={s.mode} members={s.members} webhook={s.webhook !== null && s.webhook !== undefined} />
      </div>
      <DeadLetterList name={name} />
    </>
  )
}

function Card({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div className="card" data-testid={testId}>
      <div className="label">{label}</div>
      <div className="value">{value}</div>
    </div>
  )
}
