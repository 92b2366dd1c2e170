import type { Command } from 'commander'
import type { Context } from '../context'

interface Envelope {
  partition: number
  offset: string
  type: string
  key: string | null
  time: string
  data?: unknown
  dataBase64?: string
}

const human = (e: Envelope) =>
  `${e.time} ${e.type} p${e.partition}@${e.offset}${e.key ? ` key=${e.key}` : ''} ${e.data !== undefined ? JSON.stringify(e.data) : `<${e.dataBase64?.length ?? 0} base64 chars>`}`

/** Reads a text/event-stream response and yields each `data:` payload. */
async function* sse(res: Response): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n')
      if (data) yield data
    }
  }
}

export function subscribeCommand(program: Command, ctx: () => Context): void {
  program
    .command('subscribe <topic>')
    .alias('tail')
    .description(
      'follow a topic live (Ctrl-C stops); with --group, consume as a durable consumer group and ack',
    )
    .option('--from <position>', 'earliest | latest | <offset>', 'latest')
    .option(
      '-g, --group <name>',
      'consume as this consumer group (created when missing), acking what is printed',
    )
    .option('--type <pattern>', 'only events whose type matches, e.g. game.*')
    .option('-n, --limit <n>', 'stop after this many events', Number)
    .action(async (topic: string, o) => {
      const c = ctx()
      let count = 0
      const enough = () => o.limit !== undefined && count >= o.limit
      if (!o.group) {
        const q = new URLSearchParams({ from: o.from })
        if (o.type) q.set('type', o.type)
        const res = await fetch(`${c.http.base}/v1/topics/${encodeURIComponent(topic)}/stream?${q}`, {
          headers: c.http.headers(),
        })
        if (!res.ok) await c.http.call('GET', `/v1/topics/${encodeURIComponent(topic)}/stream?${q}`)
        for await (const data of sse(res)) {
          const e = JSON.parse(data) as Envelope
          c.out.line(e, () => human(e))
          count++
          if (enough()) break
        }
        return
      }
      const name = o.group as string
      const exists = await c.http
        .call('GET', `/v1/subscriptions/${encodeURIComponent(name)}`)
        .catch(() => null)
      if (!exists) {
        const from = /^\d+$/.test(o.from) ? { offset: Number(o.from) } : o.from
        await c.http.call('POST', '/v1/subscriptions', {
          name,
          topic,
          mode: 'stream',
          from,
          ...(o.type && { typeFilter: o.type }),
        })
      }
      const member = `cli-${process.pid}`
      while (!enough()) {
        const { deliveries } = await c.http.call(
          'POST',
          `/v1/subscriptions/${encodeURIComponent(name)}/pull`,
          {
            member,
            max: o.limit ? Math.min(100, o.limit - count) : 100,
            waitMs: 5000,
          },
        )
        for (const d of deliveries as Array<{ token: string; event: Envelope }>)
          c.out.line(d.event, () => human(d.event))
        if (deliveries.length > 0) {
          await c.http.call('POST', `/v1/subscriptions/${encodeURIComponent(name)}/ack`, {
            tokens: deliveries.map((d: { token: string }) => d.token),
          })
        }
        count += deliveries.length
      }
    })
}
