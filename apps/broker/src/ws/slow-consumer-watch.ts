/**
 * Lets go of a client that stops reading. Every look at the send buffer goes
 * through `observe()`; once the buffer has been past its mark at every look for
 * `slowMs`, `onSlow` runs, once. Nothing more is queued for a congested client
 * (its subscriptions wait), so one that reads at all gets back under the mark
 * and is left alone.
 */
export class SlowConsumerWatch {
  private overSince: number | undefined
  private timer: NodeJS.Timeout | undefined
  private fired = false

  constructor(
    /** Whether the send buffer is past its mark now. */
    private readonly over: () => boolean,
    private readonly slowMs: number,
    private readonly onSlow: () => void,
  ) {}

  /** Looks at the buffer; true when it is past its mark. */
  observe(): boolean {
    if (!this.over()) {
      this.overSince = undefined
      this.stop()
      return false
    }
    if (this.overSince === undefined) {
      this.overSince = Date.now()
      // looked at on a timer too: a client nobody sends to any more is still let go
      this.timer = setInterval(() => this.tick(), Math.max(10, Math.min(1000, this.slowMs / 10)))
      this.timer.unref()
    }
    return true
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private tick(): void {
    if (!this.observe() || Date.now() - this.overSince! < this.slowMs || this.fired) return
    this.fired = true
    this.stop()
    this.onSlow()
  }
}
