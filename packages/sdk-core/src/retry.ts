/** Backoff between attempts. */
export interface BackoffOptions {
  /** First delay ceiling, in ms. */
  initialMs: number
  /** Largest delay ceiling, in ms. */
  maxMs: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5000 }

/**
 * Exponential backoff with full jitter: a uniform pick in [0, min(max, initial·2^attempt)),
 * so clients that failed together do not retry together.
 * https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function backoffDelay(
  attempt: number,
  o: BackoffOptions = DEFAULT_BACKOFF,
  random = Math.random,
): number {
  const ceiling = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}

export interface RetryBudgetOptions {
  /** Retries allowed per second whatever the traffic. */
  minPerSecond: number
  /** Share of recent requests that may be retried on top (0.2 = 20 %). */
  ratio: number
  /** Window over which requests and retries are counted, in ms. */
  windowMs: number
}

export const DEFAULT_RETRY_BUDGET: RetryBudgetOptions = { minPerSecond: 10, ratio: 0.2, windowMs: 10_000 }

/**
 * Caps retries to a share of real traffic (Finagle's retry budget), so a broker
 * in trouble is not buried under retries from every client at once.
 */
export class RetryBudget {
  private readonly requests: number[] = []
  private readonly retries: number[] = []

  constructor(
    private readonly o: RetryBudgetOptions = DEFAULT_RETRY_BUDGET,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a first attempt. */
  request(): void {
    this.requests.push(this.now())
  }

  /** Takes one retry from the budget; false when none is left. */
  tryRetry(): boolean {
    const t = this.now()
    this.expire(t)
    const allowed = (this.o.minPerSecond * this.o.windowMs) / 1000 + this.o.ratio * this.requests.length
    if (this.retries.length + 1 > allowed) return false
    this.retries.push(t)
    return true
  }

  private expire(t: number): void {
    const cutoff = t - this.o.windowMs
    while (this.requests.length > 0 && this.requests[0]! <= cutoff) this.requests.shift()
    while (this.retries.length > 0 && this.retries[0]! <= cutoff) this.retries.shift()
  }
}
