/**
 * When a batch stops being sent again. A point in time, not a timer: most
 * batches are stored long before it and never wait on it, so the signal that
 * aborts a wait at the deadline is made only when a wait needs one.
 */
export class Deadline {
  private readonly at: number

  constructor(ms: number) {
    this.at = performance.now() + ms
  }

  get passed(): boolean {
    return performance.now() >= this.at
  }

  /** Whole milliseconds left, 0 once passed. */
  remainingMs(): number {
    return Math.max(0, Math.ceil(this.at - performance.now()))
  }

  /** A signal that aborts when the deadline passes. */
  signal(): AbortSignal {
    return AbortSignal.timeout(this.remainingMs())
  }
}
