import type { Envelope } from '@questlog/protocol'
import { useState } from 'react'
import { ScrollBox } from '@/components/scroll-box'
import { Time } from '@/components/time'
import { hexView, payloadBytes, payloadText } from './payload'

/** One event whole: its fields, headers and payload, as text or as bytes. */
export function EventCard({ event }: { event: Envelope }) {
  const [hex, setHex] = useState(false)
  const headers = Object.entries(event.headers)
  return (
    <article
      className="event"
      data-testid="event"
      data-partition={event.partition}
      data-offset={event.offset}
      data-type={event.type}
      data-time={event.time}
    >
      <div className="meta">
        <span>
          partition <b>{event.partition}</b>
        </span>
        <span>
          offset <b>{event.offset}</b>
        </span>
        <span>
          type <b>{event.type}</b>
        </span>
        <span>
          key <b>{event.key ?? '—'}</b>
        </span>
        <span>
          <Time value={event.time} />
        </span>
        <span className="mono">{event.id}</span>
        <button type="button" className="link" aria-pressed={hex} onClick={() => setHex(!hex)}>
          Hex
        </button>
      </div>
      {headers.length > 0 && (
        <div className="headers" data-testid="event-headers">
          {headers.map(([k, v]) => (
            <span key={k}>
              {k}: {v}
            </span>
          ))}
        </div>
      )}
      <ScrollBox testId="event-payload">{hex ? hexView(payloadBytes(event)) : payloadText(event)}</ScrollBox>
    </article>
  )
}
