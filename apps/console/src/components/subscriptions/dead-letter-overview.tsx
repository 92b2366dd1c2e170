'use client'

import { useQuery } from '@tanstack/react-query'
import Link from 'next/link'
import { ScrollBox } from '@/components/scroll-box'
import { ErrorNote, Loading, PageHeader } from '@/components/states'
import { formatNumber } from '@/lib/format'
import { trpc } from '@/lib/trpc'

/** Which subscriptions hold dead letters; each links to its page, where they are browsed and redriven. */
export function DeadLetterOverview() {
  const subs = useQuery({
    queryKey: ['subscriptions.page', 'dead-letters'],
    queryFn: () =>
      trpc.subscriptions.page.query({ state: 'dead-letters', sort: 'deadLetters', desc: true, limit: 200 }),
    refetchInterval: 2000,
  })
  const withLetters = subs.data?.rows ?? []
  return (
    <>
      <PageHeader title="Dead letters" />
      {subs.error && <ErrorNote error={subs.error} title="The subscriptions cannot load." />}
      {subs.isPending && <Loading what="dead letters" />}
      {subs.data && withLetters.length === 0 && (
        <div className="empty" data-testid="no-dead-letters">
          <h2>No dead letters</h2>
          No subscription has given up on an event.
        </div>
      )}
      {withLetters.length > 0 && (
        <ScrollBox as="div" className="table-scroll">
          <table data-testid="dead-letter-subscriptions">
            <thead>
              <tr>
                <th>Subscription</th>
                <th>Topic</th>
                <th className="num">Dead letters</th>
                <th className="num">Max deliveries</th>
              </tr>
            </thead>
            <tbody>
              {withLetters.map((s) => (
                <tr key={s.name} data-subscription={s.name}>
                  <td>
                    <Link href={`/subscriptions/${encodeURIComponent(s.name)}#dead-letters`}>{s.name}</Link>
                  </td>
                  <td className="mono">{s.topic}</td>
                  <td className="num">{formatNumber(s.deadLetters)}</td>
                  <td className="num">{s.maxDeliveries}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      )}
    </>
  )
}
