import type { PublishLog } from './workload'

export interface LogEntry {
  id: string
  partition: number
  offset: number
}

export interface CheckResult {
  acked: number
  /** Acked, and not in the log. */
  lost: number
  /** Ids stored more than once. */
  duplicated: number
  /** Offsets missing from 0..last in some partition. */
  gaps: number
  /** Acked with a partition and offset where the log holds another event. */
  receiptMismatches: number
  /** Failed or unsettled publishes that are in the log anyway (allowed: their outcome was unknown). */
  storedUnacked: number
  failed: number
  stored: number
}

/** Reads every partition of the topic from offset 0 through the broker's HTTP API. */
export async function readLog(
  broker: string,
  token: string,
  topic: string,
  partitions: number,
): Promise<LogEntry[]> {
  const out: LogEntry[] = []
  for (let p = 0; p < partitions; p++) {
    let from = '0'
    for (;;) {
      const res = await fetch(`${broker}/v1/topics/${topic}/events?partition=${p}&from=${from}&limit=1000`, {
        headers: { authorization: `Bearer ${token}` },
      })
      if (!res.ok) throw new Error(`reading ${topic}/${p} from ${from}: ${res.status} ${await res.text()}`)
      const page = (await res.json()) as {
        events: Array<{ offset: string; partition: number; data: { id: string } }>
        next: string
      }
      for (const e of page.events)
        out.push({ id: e.data.id, partition: e.partition, offset: Number(e.offset) })
      if (page.events.length === 0) break
      from = page.next
    }
  }
  return out
}

/** What was acked against what the log holds: the properties every scenario checks. */
export function check(log: PublishLog, entries: LogEntry[]): CheckResult {
  const byId = new Map<string, LogEntry[]>()
  const byPlace = new Map<string, LogEntry>()
  const offsets = new Map<number, number[]>()
  for (const e of entries) {
    byId.get(e.id)?.push(e) ?? byId.set(e.id, [e])
    byPlace.set(`${e.partition}:${e.offset}`, e)
    offsets.get(e.partition)?.push(e.offset) ?? offsets.set(e.partition, [e.offset])
  }
  let lost = 0
  let receiptMismatches = 0
  for (const [id, ack] of log.acked) {
    if (!byId.has(id)) lost++
    if (byPlace.get(`${ack.partition}:${ack.offset}`)?.id !== id) receiptMismatches++
  }
  let duplicated = 0
  for (const list of byId.values()) if (list.length > 1) duplicated++
  let gaps = 0
  for (const list of offsets.values()) {
    list.sort((a, b) => a - b)
    list.forEach((o, i) => {
      if (o !== i) gaps++
    })
  }
  let storedUnacked = 0
  for (const id of byId.keys()) if (!log.acked.has(id)) storedUnacked++
  return {
    acked: log.acked.size,
    lost,
    duplicated,
    gaps,
    receiptMismatches,
    storedUnacked,
    failed: log.failed.size,
    stored: entries.length,
  }
}

/** The check's figures, as every scenario reports them (in this order). */
export function checkFigures(c: CheckResult): Record<string, number> {
  return {
    'events acked': c.acked,
    lost: c.lost,
    duplicated: c.duplicated,
    'offset gaps': c.gaps,
    'receipts not matching the log': c.receiptMismatches,
    'publishes failed (after the SDK gave up)': c.failed,
    'stored but not acked': c.storedUnacked,
  }
}

/** The properties every scenario holds the log to. */
export function expectLogHolds(
  ctx: { expect(holds: boolean, property: string): void },
  c: CheckResult,
): void {
  ctx.expect(c.lost === 0, 'no acked event is lost')
  ctx.expect(c.duplicated === 0, 'no event is stored twice')
  ctx.expect(c.gaps === 0, 'offsets are gapless per partition')
  ctx.expect(c.receiptMismatches === 0, "the receipts' offsets match the log")
}
