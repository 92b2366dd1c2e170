import type { BenchOptions } from '../options'
import { type Spread, spread } from '../stats'
import type { ThroughputCase, ThroughputTarget } from '../systems/types'
import { drive } from './drive'

export interface ThroughputRow {
  system: string
  durability: string
  case: ThroughputCase
  eventsPerSecond: Spread
}

const log = (s: string) => process.stderr.write(`${s}\n`)

/**
 * A full collection in this process (`npm run bench` runs it with
 * `--expose-gc`) before each cell: every system's client runs here, and none
 * should pay for the garbage the cell before it left.
 */
function collectGarbage(): void {
  ;(globalThis as { gc?: () => void }).gc?.()
}

/**
 * Measures every target on every case: for each repetition the targets run one
 * after another (rotating which goes first), so slow drifts of a shared machine
 * hit them all alike.
 */
export async function measureThroughput(
  targets: ThroughputTarget[],
  cases: ThroughputCase[],
  o: Pick<BenchOptions, 'reps' | 'seconds' | 'warmupSeconds'>,
): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = []
  for (const c of cases) {
    const samples = new Map<ThroughputTarget, number[]>(targets.map((t) => [t, []]))
    for (let rep = 0; rep < o.reps; rep++) {
      const order = targets.map((_, i) => targets[(i + rep) % targets.length]!)
      for (const t of order) {
        collectGarbage()
        const opened = await t.open(c)
        try {
          const r = await drive(opened.producers, o.warmupSeconds * 1000, o.seconds * 1000)
          samples.get(t)!.push(r.eventsPerSecond)
          log(`  ${label(c)} ${t.name}: ${Math.round(r.eventsPerSecond)} events/s`)
        } finally {
          await opened.close()
        }
      }
    }
    for (const t of targets) {
      rows.push({
        system: t.name,
        durability: t.durability,
        case: c,
        eventsPerSecond: spread(samples.get(t)!),
      })
    }
  }
  return rows
}

export function label(c: ThroughputCase): string {
  return `${c.partitions}p/${c.producers}prod/${c.eventBytes}B/batch ${c.batch}`
}
