import type { ReceiptRuns } from './frames'
import type { Receipt } from './publish'

/** The offset `k` places after `first`; offsets are decimal strings, and may pass 2^53. */
export function offsetAfter(first: string, k: number): string {
  return first.length < 16 ? String(Number(first) + k) : String(BigInt(first) + BigInt(k))
}

/**
 * Receipts written as runs (see `receiptRunsSchema`) for events sent with
 * the ids `ids`: consecutive events stored under their own ids, one after the
 * other in one partition, become one `[partition, first offset, count]`.
 */
export function toReceiptRuns(
  receipts: readonly Receipt[],
  ids: ReadonlyArray<string | undefined>,
): ReceiptRuns {
  const runs: ReceiptRuns = []
  let run: [number, string, number] | undefined
  let next = -1
  for (let i = 0; i < receipts.length; i++) {
    const r = receipts[i]!
    if (r.duplicate || r.invalid !== undefined || r.id !== ids[i]) {
      runs.push(r)
      run = undefined
      continue
    }
    if (
      run &&
      run[0] === r.partition &&
      (next >= 0 ? Number(r.offset) === next : offsetAfter(run[1], run[2]) === r.offset)
    ) {
      run[2]++
      if (next >= 0) next++
    } else {
      run = [r.partition, r.offset, 1]
      runs.push(run)
      next = r.offset.length < 16 ? Number(r.offset) + 1 : -1
    }
  }
  return runs
}

/** The receipts that `runs` stand for, given the ids the events were sent with, in order. */
export function fromReceiptRuns(runs: ReceiptRuns, ids: readonly string[]): Receipt[] {
  const out: Receipt[] = []
  for (const item of runs) {
    if (!Array.isArray(item)) {
      out.push(item)
      continue
    }
    const [partition, first, count] = item
    // the first offset is read once per run, not once per event
    const base = first.length < 16 ? Number(first) : undefined
    for (let k = 0; k < count; k++) {
      const offset = base === undefined ? offsetAfter(first, k) : String(base + k)
      out.push({ id: ids[out.length]!, partition, offset, duplicate: false })
    }
  }
  return out
}
