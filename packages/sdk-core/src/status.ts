import { ClientClosedError } from './errors'
import type { RouteWhy } from './router'

/** Why the connection state changed. */
export type StatusReason =
  | 'start'
  | 'connected'
  | 'connection_lost'
  | 'connect_failed'
  | 'client_closed'
  | 'fatal_error'
  /** Another transport (HTTP + SSE) took over from WebSocket. */
  | 'fallback'
  /** The client left a broker that is healthy enough to reach for one that is healthier (see `route`). */
  | 'rerouted'

/** Connection state; every transition carries its reason. */
export type Status =
  | { state: 'connecting'; reason: StatusReason }
  | {
      state: 'open'
      reason: StatusReason
      url: string
      /** The id of the broker connected (from its welcome). */
      broker?: string | undefined
      /** Why the client is on this broker, and the broker it came from (its id), if it moved. */
      route?: { why: RouteWhy; from?: string | undefined } | undefined
    }
  | { state: 'reconnecting'; reason: StatusReason; attempt: number; error?: Error | undefined }
  | { state: 'closed'; reason: StatusReason; error?: Error | undefined }

const ALLOWED: Record<Status['state'], readonly Status['state'][]> = {
  connecting: ['open', 'reconnecting', 'closed'],
  open: ['reconnecting', 'closed'],
  reconnecting: ['reconnecting', 'open', 'closed'],
  closed: [],
}

/**
 * Holds the connection state. `transition` is the only way to change it; every
 * change is seen by every `status()` iterator, and `closed()` settles once.
 */
export class StatusMachine {
  private current: Status = { state: 'connecting', reason: 'start' }
  private readonly listeners = new Set<(s: Status) => void>()
  private readonly done: Promise<Error | undefined>
  private settle!: (v: Error | undefined) => void

  constructor() {
    this.done = new Promise((resolve) => {
      this.settle = resolve
    })
  }

  get(): Status {
    return this.current
  }

  /** Moves to `next`; returns false (and changes nothing) when the move is not allowed. */
  transition(next: Status): boolean {
    if (!ALLOWED[this.current.state].includes(next.state)) return false
    this.current = next
    for (const l of this.listeners) l(next)
    if (next.state === 'closed') {
      this.settle(next.error)
      this.listeners.clear()
    }
    return true
  }

  /** Resolves when the client is closed: with nothing after `close()`, with the error that ended it otherwise. */
  closed(): Promise<Error | undefined> {
    return this.done
  }

  /** Resolves when the state is `open`; rejects if it becomes `closed` first. */
  whenOpen(): Promise<void> {
    if (this.current.state === 'open') return Promise.resolve()
    if (this.current.state === 'closed') return Promise.reject(this.current.error ?? new ClientClosedError())
    return new Promise((resolve, reject) => {
      const l = (s: Status) => {
        if (s.state === 'open') {
          this.listeners.delete(l)
          resolve()
        } else if (s.state === 'closed') {
          this.listeners.delete(l)
          reject(s.error ?? new ClientClosedError())
        }
      }
      this.listeners.add(l)
    })
  }

  /** The current state, then every change, until `closed` (inclusive). */
  async *status(): AsyncIterable<Status> {
    const queue: Status[] = [this.current]
    let wake: (() => void) | undefined
    const l = (s: Status) => {
      queue.push(s)
      wake?.()
    }
    if (this.current.state !== 'closed') this.listeners.add(l)
    try {
      for (;;) {
        while (queue.length > 0) {
          const s = queue.shift()!
          yield s
          if (s.state === 'closed') return
        }
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        wake = undefined
      }
    } finally {
      this.listeners.delete(l)
    }
  }
}
