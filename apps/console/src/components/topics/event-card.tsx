import type { Envelope } from '@questlog/protocol'
import { formatTime } from '@/lib/format'

function payloadText(e: Envelope): string {
  if (e.dataBase64 !== undefined) return `(${e.contentType}, base64)\n${e.dataBase64}`
  return JSON.stringify(e.data, null, 2) ?? 'null'
}

export function EventCard({ event }: { event: Envelope }) {
  const headers = Object.entries(event.headers)
  return (
    <article
      className="event"
      data-testid="event"
      data-partition={event.partition}
      data-offset={event.offset}
      data-type={event.type}
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
        <span>{formatTime(event.time)}</span>
        <span className="mono">{event.id}</span>
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
      <pre data-testid="event-payload">{payloadText(event)}</pre>
    </article>
  )
}
