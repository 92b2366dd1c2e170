import type { SendBatch } from '../systems/types'

export interface DriveResult {
  events: number
  seconds: number
  eventsPerSecond: number
}

/**
 * Runs every producer in a closed loop (send, await the ack, send again).
 * Acks that land in the measured window count; the warm-up's do not. Each
 * producer stops issuing at the deadline and its last batch is awaited, not counted.
 */
export async function drive(
  producers: SendBatch[],
  warmupMs: number,
  measureMs: number,
): Promise<DriveResult> {
  const start = performance.now()
  const t0 = start + warmupMs
  const t1 = t0 + measureMs
  let events = 0
  await Promise.all(
    producers.map(async (send) => {
      while (performance.now() < t1) {
        const n = await send()
        const now = performance.now()
        if (now >= t0 && now <= t1) events += n
      }
    }),
  )
  const seconds = measureMs / 1000
  return { events, seconds, eventsPerSecond: events / seconds }
}
