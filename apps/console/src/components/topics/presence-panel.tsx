'use client'

import { useQuery } from '@tanstack/react-query'
import { ErrorNote } from '@/components/states'
import { formatNumber } from '@/lib/format'
import { trpc } from '@/lib/trpc'

/**
 * Who is on the presence channel named like this topic (a lobby's `lobby.eu-1` beside its topic),
 * on every broker; refreshed every two seconds. Shown only while someone is there.
 */
export function PresencePanel({ channel }: { channel: string }) {
  const presence = useQuery({
    queryKey: ['presence.members', channel],
    queryFn: () => trpc.presence.members.query({ channel }),
    refetchInterval: 2000,
  })
  if (presence.error) return <ErrorNote error={presence.error} title="Presence could not be read." />
  const p = presence.data
  if (!p || p.total === 0) return null
  return (
    <section className="panel" data-testid="presence-panel">
      <h2>
        Presence: {formatNumber(p.total)} {p.total === 1 ? 'member' : 'members'}
        {p.total > p.members.length ? ` (the first ${p.members.length} shown)` : ''}
      </h2>
      <table>
        <thead>
          <tr>
            <th>Member</th>
            <th>Info</th>
          </tr>
        </thead>
        <tbody>
          {p.members.map((m) => (
            <tr key={`${m.connection}/${m.id}`}>
              <td>{m.id}</td>
              <td>
                <code>{m.info === undefined ? '' : JSON.stringify(m.info)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  )
}
