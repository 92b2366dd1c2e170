import { ScrollBox } from '@/components/scroll-box'
import { formatNumber } from '@/lib/format'

interface PartitionLag {
  topic: string
  partition: number
  position: number
  high: number
  lag: number
}

export function Partitions({ partitions }: { partitions: PartitionLag[] }) {
  return (
    <section className="panel">
      <h2>Partitions</h2>
      {partitions.length === 0 ? (
        <p className="muted">No topic matches this subscription yet.</p>
      ) : (
        <ScrollBox as="div" className="table-scroll">
          <table data-testid="sub-partitions-table">
            <thead>
              <tr>
                <th>Topic</th>
                <th className="num">Partition</th>
                <th className="num">Position</th>
                <th className="num">Next offset</th>
                <th className="num">Lag</th>
              </tr>
            </thead>
            <tbody>
              {partitions.map((p) => (
                <tr key={`${p.topic}/${p.partition}`}>
                  <td className="mono">{p.topic}</td>
                  <td className="num">{p.partition}</td>
                  <td className="num">{p.position}</td>
                  <td className="num">{p.high}</td>
                  <td className="num">{formatNumber(p.lag)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      )}
    </section>
  )
}

interface Member {
  member: string
  partitions: Array<{ topic: string; partition: number }>
}

export function Members({ mode, members, webhook }: { mode: string; members: Member[]; webhook: boolean }) {
  return (
    <section className="panel">
      <h2>Members</h2>
      {mode === 'queue' ? (
        <p className="muted">Queue mode: any consumer pulls any event; no member owns a partition.</p>
      ) : members.length === 0 ? (
        <p className="muted" data-testid="no-members">
          {webhook
            ? 'Delivered by webhook: the brokers are the members.'
            : 'No member has pulled within the session timeout.'}
        </p>
      ) : (
        <ScrollBox as="div" className="table-scroll">
          <table data-testid="members-table">
            <thead>
              <tr>
                <th>Member</th>
                <th>Partitions</th>
              </tr>
            </thead>
            <tbody>
              {members.map((m) => (
                <tr key={m.member}>
                  <td className="mono">{m.member}</td>
                  <td>
                    {m.partitions.map((p) => `${p.topic}/${p.partition}`).join(', ') || 'none (standby)'}
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
