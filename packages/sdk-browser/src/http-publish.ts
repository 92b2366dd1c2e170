import { errorFromBody, type PublishBatchResponse, type PublishEvent } from '@questlog/protocol'
import { type BatchResult, ConnectionLostError } from '@questlog/sdk-core'

export interface HttpPublishOptions {
  broker: string
  token?: string | undefined
  /** Lets the request outlive the page (`pagehide`); bodies are then limited to 64 KiB in total. */
  keepalive?: boolean
  signal?: AbortSignal
}

/** Publishes one batch with `POST /v1/topics/{topic}/events`; a 429 becomes a BackpressureError with its Retry-After. */
export async function httpPublish(
  topic: string,
  events: PublishEvent[],
  o: HttpPublishOptions,
): Promise<BatchResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`
  let res: Response
  try {
    res = await fetch(`${o.broker.replace(/\/$/, '')}/v1/topics/${encodeURIComponent(topic)}/events`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ events }),
      keepalive: o.keepalive ?? false,
      signal: o.signal ?? null,
    })
  } catch (e) {
    throw new ConnectionLostError('the broker could not be reached', e)
  }
  const body: unknown = await res.json().catch(() => undefined)
  if (!res.ok) {
    const error = errorFromBody(body, res.status)
    const retryAfter = Number(res.headers.get('retry-after'))
    if (res.status === 429 && retryAfter > 0 && error.details)
      error.details.retryAfterMs ??= retryAfter * 1000
    throw error
  }
  // the broker's answer is its contract, as a WebSocket frame's is: no schema check on the client's path
  return body as PublishBatchResponse
}
