import { QuestlogError } from '@questlog/protocol'

/** `publish` with overrun policy `error` found the buffer full; nothing was enqueued. */
export class BufferFullError extends QuestlogError {
  readonly capacity: number
  constructor(capacity: number) {
    super('backpressure', `the publish buffer holds ${capacity} events and is full`, {
      details: { capacity, retryAfterMs: 0 },
    })
    this.name = 'BufferFullError'
    this.capacity = capacity
  }
}

/** An event left the buffer unsent under overrun policy `drop-oldest` or `drop-newest`. */
export class EventDroppedError extends QuestlogError {
  readonly policy: string
  constructor(policy: string) {
    super('backpressure', `the event was dropped: the publish buffer was full (policy ${policy})`, {
      details: { policy },
    })
    this.name = 'EventDroppedError'
    this.policy = policy
  }
}

/** The client was closed; the operation cannot run any more. */
export class ClientClosedError extends QuestlogError {
  constructor(message = 'the client is closed', cause?: unknown) {
    super('unavailable', message, cause === undefined ? {} : { cause })
    this.name = 'ClientClosedError'
  }
}

/** The connection dropped while a request was in flight; the request may be retried. */
export class ConnectionLostError extends QuestlogError {
  constructor(message = 'the connection to the broker was lost', cause?: unknown) {
    super('unavailable', message, cause === undefined ? {} : { cause })
    this.name = 'ConnectionLostError'
  }
}

/** The operation was cancelled through its AbortSignal. */
export class AbortedError extends QuestlogError {
  constructor(reason?: unknown) {
    super('timeout', 'the operation was aborted', reason === undefined ? {} : { cause: reason })
    this.name = 'AbortedError'
  }
}
