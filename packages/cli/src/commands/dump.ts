import { createReadStream, createWriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Writable } from 'node:stream'
import { isQuestlogError } from '@questlog/protocol'
import type { Command } from 'commander'
import type { Context } from '../context'

interface Envelope {
  id: string
  partition: number
  offset: string
  type: string
  source: string
  /** The commit time in the dumped topic. */
  time: string
  /** The producer's event time, when it gave one. */
  eventTime?: string
  key: string | null
  dedupeKey: string | null
  contentType: string
  headers: Record<string, string>
  data?: unknown
  dataBase64?: string
}

function write(out: Writable, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.write(line)) resolve()
    else out.once('drain', resolve).once('error', reject)
  })
}

interface PartitionInfo {
  partition: number
  earliest: string
  next: string
}

/** Every stored event of a topic, a page at a time, partition by partition in offset order. */
async function* pages(c: Context, topic: string, partitions: PartitionInfo[]): AsyncGenerator<Envelope[]> {
  for (const p of partitions) {
    let from = p.earliest
    while (BigInt(from) < BigInt(p.next)) {
      const page = await c.http.call(
        'GET',
        `/v1/topics/${encodeURIComponent(topic)}/events?partition=${p.partition}&from=${from}&limit=1000`,
      )
      if (page.events.length === 0) break
      yield page.events as Envelope[]
      from = page.next
    }
  }
}

export function dumpCommands(program: Command, ctx: () => Context): void {
  program
    .command('dump <topic>')
    .description('write every stored event of a topic as NDJSON envelopes (offsets and headers kept)')
    .option('-o, --out <file>', 'file to write (stdout when absent)')
    .action(async (topic: string, o) => {
      const c = ctx()
      const t = await c.http.call('GET', `/v1/topics/${encodeURIComponent(topic)}`)
      const total = t.partitionInfo.reduce(
        (n: number, p: { earliest: string; next: string }) => n + Number(p.next) - Number(p.earliest),
        0,
      )
      const out: Writable = o.out ? createWriteStream(o.out) : process.stdout
      let done = 0
      for await (const page of pages(c, topic, t.partitionInfo)) {
        for (const e of page) await write(out, `${JSON.stringify(e)}\n`)
        done += page.length
        c.out.progress(done, total, `dumped ${topic}`)
      }
      if (o.out) await new Promise((r) => (out as ReturnType<typeof createWriteStream>).end(r))
      c.out.endProgress()
      if (o.out)
        c.out.result(
          { topic, events: done, file: o.out },
          () => `dumped ${done} event(s) of ${topic} to ${o.out}`,
        )
    })

  program
    .command('restore <topic>')
    .description(
      'publish NDJSON envelopes from dump into a topic (created when missing), keeping partitions, order, headers and times',
    )
    .option('-i, --in <file>', 'file to read (stdin when absent)')
    .action(async (topic: string, o) => {
      const c = ctx()
      const input = o.in ? createReadStream(o.in) : process.stdin
      const envelopes: Envelope[] = []
      for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
        if (line.trim()) envelopes.push(JSON.parse(line) as Envelope)
      }
      const partitions = envelopes.reduce((n, e) => Math.max(n, e.partition + 1), 1)
      const existing = await c.http
        .call('GET', `/v1/topics/${encodeURIComponent(topic)}`)
        .catch((e: unknown) => {
          if (isQuestlogError(e) && e.code === 'topic_not_found') return null
          throw e
        })
      if (!existing) await c.http.call('POST', '/v1/topics', { name: topic, partitions })
      // an event whose id the topic already holds is not sent again: a second restore of the same
      // dump, or one after an interrupted restore, adds only what is missing
      const stored = new Set<string>()
      if (existing)
        for await (const page of pages(c, topic, existing.partitionInfo))
          for (const e of page) stored.add(e.id)
      const byPartition = new Map<number, Envelope[]>()
      let skipped = 0
      for (const e of envelopes) {
        if (stored.has(e.id)) {
          skipped++
          continue
        }
        stored.add(e.id)
        const list = byPartition.get(e.partition)
        if (list) list.push(e)
        else byPartition.set(e.partition, [e])
      }
      let done = 0
      for (const [partition, list] of byPartition) {
        list.sort((a, b) => Number(a.offset) - Number(b.offset))
        for (let i = 0; i < list.length; i += 500) {
          const events = list.slice(i, i + 500).map((e) => ({
            id: e.id,
            partition,
            type: e.type,
            source: e.source,
            // the restored event keeps when it happened: its event time, else when it was first committed
            time: e.eventTime ?? e.time,
            contentType: e.contentType,
            ...(e.key !== null && { key: e.key }),
            ...(e.dedupeKey !== null && { dedupeKey: e.dedupeKey }),
            ...(Object.keys(e.headers).length > 0 && { headers: e.headers }),
            ...(e.dataBase64 !== undefined ? { dataBase64: e.dataBase64 } : { data: e.data ?? null }),
          }))
          await c.http.call('POST', `/v1/topics/${encodeURIComponent(topic)}/events`, { events })
          done += events.length
          c.out.progress(done, envelopes.length - skipped, `restored into ${topic}`)
        }
      }
      c.out.endProgress()
      c.out.result(
        { topic, events: done, skipped },
        () =>
          `restored ${done} event(s) into ${topic}${skipped > 0 ? `; ${skipped} already there, skipped` : ''}`,
      )
    })
}
