import type { BenchOptions } from '../options'
import { type Spread, spread } from '../stats'
import type { CatchUpTarget } from '../systems/types'

export interface CatchUpRow {
  system: string
  events: number
  eventsPerSecond: Spread
}

const log = (s: string) => process.stderr.write(`${s}\n`)

/** Stores `catchUpEvents` once per system, then reads them all back `reps` times, alternating systems. */
export async function measureCatchUp(
  targets: CatchUpTarget[],
  o: Pick<BenchOptions, 'reps' | 'catchUpEvents'>,
  eventBytes = 200,
): Promise<CatchUpRow[]> {
  const filled = []
  for (const t of targets)
    filled.push({ t, f: await t.fill(o.catchUpEvents, eventBytes), rates: [] as number[] })
  try {
    for (let rep = 0; rep < o.reps; rep++) {
      for (const x of filled) {
        const t0 = performance.now()
        const got = await withTimeout(x.f.readAll(), 180_000, `${x.t.name} catch-up`)
        const s = (performance.now() - t0) / 1000
        if (got < o.catchUpEvents) throw new Error(`${x.t.name} read ${got} of ${o.catchUpEvents} events`)
        x.rates.push(got / s)
        log(`  catch-up ${x.t.name}: ${Math.round(got / s)} events/s`)
      }
    }
  } finally {
    for (const x of filled) await x.f.close()
  }
  return filled.map((x) => ({ system: x.t.name, events: o.catchUpEvents, eventsPerSecond: spread(x.rates) }))
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}
