import type { Command } from 'commander'
import { type Context, int } from '../context'
import { table } from '../output'

export function topicsCommand(program: Command, ctx: () => Context): void {
  const topics = program.command('topics').description('create, list, describe and delete topics')
  topics
    .command('create <name>')
    .description('create a topic')
    .option('-p, --partitions <n>', 'partitions', int, 1)
    .option('--retention-ms <ms>', 'drop events older than this', int)
    .option('--retention-bytes <bytes>', 'drop the oldest segments past this size', int)
    .option('--dedupe-window-ms <ms>', 'how long a dedupe key is remembered', int)
    .option('--encryption <mode>', 'none | topic | per-key')
    .action(async (name: string, o) => {
      const c = ctx()
      const body: Record<string, unknown> = { name, partitions: o.partitions }
      if (o.retentionMs !== undefined) body.retentionMs = o.retentionMs
      if (o.retentionBytes !== undefined) body.retentionBytes = o.retentionBytes
      if (o.dedupeWindowMs !== undefined) body.dedupeWindowMs = o.dedupeWindowMs
      if (o.encryption !== undefined) body.encryption = o.encryption
      const t = await c.http.call('POST', '/v1/topics', body)
      c.out.result(t, () => `created topic ${t.name} with ${t.partitions} partition(s)`)
    })
  topics
    .command('list')
    .description('list topics')
    .action(async () => {
      const c = ctx()
      const { topics: list } = await c.http.call('GET', '/v1/topics')
      c.out.result(list, () =>
        table(list, ['name', 'partitions', 'retentionMs', 'retentionBytes', 'encryption']),
      )
    })
  topics
    .command('describe <name>')
    .description('settings, partitions and their offsets')
    .action(async (name: string) => {
      const c = ctx()
      const t = await c.http.call('GET', `/v1/topics/${encodeURIComponent(name)}`)
      c.out.result(t, () =>
        [
          `${t.name}: ${t.partitions} partition(s), ${t.events} event(s), ${t.sizeBytes} bytes`,
          `retention: ${t.retentionMs ?? 'none'} ms, ${t.retentionBytes ?? 'none'} bytes; dedupe window ${t.dedupeWindowMs} ms`,
          table(t.partitionInfo, ['partition', 'earliest', 'next']),
        ].join('\n'),
      )
    })
  topics
    .command('delete <name>')
    .description('delete a topic and all its events')
    .action(async (name: string) => {
      const c = ctx()
      await c.http.call('DELETE', `/v1/topics/${encodeURIComponent(name)}`)
      c.out.result({ deleted: name }, () => `deleted topic ${name}`)
    })
}
