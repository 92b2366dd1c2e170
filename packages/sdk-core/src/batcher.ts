/** Limits of one batch; a single item larger than `maxBytes` still travels alone. */
export interface BatchLimits {
  /** Most events in one batch. */
  maxEvents: number
  /** Most payload bytes in one batch (estimated from the JSON size). */
  maxBytes: number
}

export interface BatchItem {
  /** Items of one batch share a topic. */
  topic: string
  bytes: number
}

/**
 * How many items from the head of `items` form the next batch: at least one
 * when any are there, never past the limits, never across topics, order kept.
 */
export function nextBatchSize(
  items: { length: number; at(i: number): BatchItem | undefined },
  limits: BatchLimits,
): number {
  const first = items.at(0)
  if (!first) return 0
  let n = 1
  let bytes = first.bytes
  const max = Math.min(items.length, Math.max(1, limits.maxEvents))
  while (n < max) {
    const next = items.at(n)!
    if (next.topic !== first.topic || bytes + next.bytes > limits.maxBytes) break
    bytes += next.bytes
    n++
  }
  return n
}

/** Whether the head batch is as large as it can get, so there is no point lingering. */
export function batchIsFull(
  items: { length: number; at(i: number): BatchItem | undefined },
  limits: BatchLimits,
): boolean {
  const n = nextBatchSize(items, limits)
  return n > 0 && (n >= limits.maxEvents || n < items.length)
}

/** Splits a whole list into batches; what `nextBatchSize` does repeatedly. */
export function splitIntoBatches<T extends BatchItem>(items: readonly T[], limits: BatchLimits): T[][] {
  const out: T[][] = []
  let rest = items
  while (rest.length > 0) {
    const n = nextBatchSize(rest, limits)
    out.push(rest.slice(0, n))
    rest = rest.slice(n)
  }
  return out
}
