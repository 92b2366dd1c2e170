import type { BackpressureHint } from '@questlog/protocol'

/**
 * Decides how fast the producer sends. A soft-accept hint or a refusal (429)
 * pauses sending for the broker's `retryAfterMs`; broker credits cap how many
 * events may be in flight; a suggested rate caps events per second.
 */
export class Pacer {
  private resumeAt = 0
  private rate: number | undefined
  private lastSendAt = 0
  /** Events the broker lets this client have in flight. */
  credits: number
  /** Times the broker asked this client to slow down. */
  slowdowns = 0

  constructor(
    credits: number,
    private readonly now: () => number = Date.now,
  ) {
    this.credits = credits
  }

  /** A hint came with a receipt: everything was stored, but slow down. */
  onHint(hint: BackpressureHint): void {
    this.slowdowns++
    this.resumeAt = Math.max(this.resumeAt, this.now() + hint.retryAfterMs)
    if (hint.suggestedRate !== undefined && hint.suggestedRate > 0) this.rate = hint.suggestedRate
  }

  /** A batch was refused (429 / `backpressure`): wait `retryAfterMs` before sending again. */
  onRefused(retryAfterMs: number): void {
    this.slowdowns++
    this.resumeAt = Math.max(this.resumeAt, this.now() + retryAfterMs)
  }

  /** A batch was stored without a hint: lift the rate cap. */
  onClear(): void {
    this.rate = undefined
  }

  /** Ms to wait before sending a batch of `n` events. */
  delayFor(n: number): number {
    const t = this.now()
    let wait = Math.max(0, this.resumeAt - t)
    if (this.rate !== undefined) wait = Math.max(wait, this.lastSendAt + (n / this.rate) * 1000 - t)
    return wait
  }

  /** Records that a batch went out now. */
  sent(): void {
    this.lastSendAt = this.now()
  }
}
