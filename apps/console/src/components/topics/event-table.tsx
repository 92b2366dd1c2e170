import type { Envelope } from '@questlog/protocol'
import { Fragment, useState } from 'react'
import { ScrollBox } from '@/components/scroll-box'
import { Time } from '@/components/time'
import { formatBytes } from '@/lib/format'
import { EventCard } from './event-card'
import { payloadBytes, payloadPreview } from './payload'

/** Events one a line (time, partition, offset, key, type, size, payload), each opening in place. */
export function EventTable({ events }: { events: Envelope[] }) {
  const [open, setOpen] = useState<Set<string>>(new Set())
  const toggle = (id: string) => {
    const next = new Set(open)
    if (next.has(id)) next.delete(id)
    else next.add(id)
    setOpen(next)
  }
  return (
    <ScrollBox as="div" className="table-scroll">
      <table className="event-table" data-testid="event-table">
        <thead>
          <tr>
            <th>
              <span className="visually-hidden">Open</span>
            </th>
            <th>Time</th>
            <th className="num">Partition</th>
            <th className="num">Offset</th>
            <th>Key</th>
            <th>Type</th>
            <th className="num">Size</th>
            <th>Payload</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => {
            const id = `${e.partition}:${e.offset}`
            const expanded = open.has(id)
            return (
              <Fragment key={id}>
                <tr data-testid="event-row" data-partition={e.partition} data-offset={e.offset}>
                  <td>
                    <button
                      type="button"
                      className="link"
                      aria-expanded={expanded}
                      aria-label={`${expanded ? 'Close' : 'Open'} event ${e.partition}:${e.offset}`}
                      onClick={() => toggle(id)}
                    >
                      {expanded ? '▾' : '▸'}
                    </button>
                  </td>
                  <td className="nowrap">
                    <Time value={e.time} />
                  </td>
                  <td className="num">{e.partition}</td>
                  <td className="num">{e.offset}</td>
                  <td className="mono">{e.key ?? '—'}</td>
                  <td className="mono">{e.type}</td>
                  <td className="num">{formatBytes(payloadBytes(e).length)}</td>
                  <td className="mono preview">{payloadPreview(e)}</td>
                </tr>
                {expanded && (
                  <tr className="expanded">
                    <td colSpan={8}>
                      <EventCard event={e} />
                    </td>
                  </tr>
                )}
              </Fragment>
            )
          })}
        </tbody>
      </table>
    </ScrollBox>
  )
}
