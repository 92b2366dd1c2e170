import type { EventSubscription, ReceivedEvent } from '@questlog/sdk-core'

/**
 * A subscription that can move from WebSocket to SSE mid-way: the new stream
 * starts from the cursor of the last event the old one received (both
 * transports use the broker's cursors), so the move leaves no gap.
 */
export class FallbackSubscription<T> implements EventSubscription<T> {
  private next: EventSubscription<T> | undefined
  private failure: Error | undefined
  private closed = false

  constructor(
    private current: EventSubscription<T>,
    private readonly resumeOverSse: (cursor: string | undefined) => EventSubscription<T>,
  ) {}

  get cursor(): string | undefined {
    return this.current.cursor
  }

  get positions(): Readonly<Record<string, string>> {
    return this.current.positions
  }

  close(): void {
    this.closed = true
    this.current.close()
  }

  /** Ends the current stream after what it already received, then carries on over SSE. */
  switchToSse(): void {
    if (this.closed || this.next) return
    try {
      this.next = this.resumeOverSse(this.current.cursor)
    } catch (e) {
      this.failure = e as Error
    }
    this.current.close()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ReceivedEvent<T>> {
    for (;;) {
      for await (const ev of this.current) yield ev
      if (this.failure) throw this.failure
      if (!this.next || this.closed) return
      this.current = this.next
      this.next = undefined
    }
  }
}
