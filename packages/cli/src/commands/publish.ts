import { createInterface } from 'node:readline'
import type { Command } from 'commander'
import { type Context, collect } from '../context'
import { UsageError } from '../errors'

function headers(pairs: string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined
  return Object.fromEntries(
    pairs.map((p) => {
      const i = p.indexOf('=')
      if (i < 1) throw new UsageError(`header '${p}' is not name=value`)
      return [p.slice(0, i), p.slice(i + 1)]
    }),
  )
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text // plain text travels as a JSON string
  }
}

export function publishCommand(program: Command, ctx: () => Context): void {
  program
    .command('publish <topic> [data]')
    .description("publish one event (data as JSON or text), or NDJSON events from stdin with '-'")
    .option('-t, --type <type>', 'event type, e.g. game.kill')
    .option('-k, --key <key>', 'partition key')
    .option('--dedupe-key <key>', 'dedupe key')
    .option('-H, --header <name=value>', 'a header (repeatable)', collect, [])
    .action(async (topic: string, data: string | undefined, o) => {
      const c = ctx()
      const path = `/v1/topics/${encodeURIComponent(topic)}/events`
      const base = { type: o.type, key: o.key, dedupeKey: o.dedupeKey, headers: headers(o.header) }
      if (data !== undefined && data !== '-') {
        const r = await c.http.call('POST', path, { ...base, data: parseData(data) })
        c.out.result(
          r,
          () =>
            `published ${r.duplicate ? '(duplicate) ' : ''}to partition ${r.partition} at offset ${r.offset}`,
        )
        return
      }
      // NDJSON on stdin: each line is a full event ({"data":…,"key":…}) or a bare payload
      let batch: unknown[] = []
      let sent = 0
      const flush = async () => {
        if (batch.length === 0) return
        await c.http.call('POST', path, { events: batch })
        sent += batch.length
        batch = []
        c.out.progress(sent, null, 'published')
      }
      for await (const line of createInterface({
        input: process.stdin,
        crlfDelay: Number.POSITIVE_INFINITY,
      })) {
        if (!line.trim()) continue
        const doc = parseData(line)
        const isEvent = typeof doc === 'object' && doc !== null && ('data' in doc || 'dataBase64' in doc)
        batch.push(isEvent ? { ...base, ...(doc as object) } : { ...base, data: doc })
        if (batch.length >= 500) await flush()
      }
      await flush()
      c.out.endProgress()
      c.out.result({ published: sent }, () => `published ${sent} event(s)`)
    })
}
