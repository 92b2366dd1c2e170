import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { type Context, int } from '../context'
import { table } from '../output'

const topicPath = (topic: string, rest = '') => `/v1/topics/${encodeURIComponent(topic)}${rest}`

/** Schemas, scheduled events and brokers. */
export function adminCommands(program: Command, ctx: () => Context): void {
  const schemas = program.command('schemas').description("a topic's payload schemas (JSON Schema)")
  schemas
    .command('list <topic>')
    .description('registered versions')
    .action(async (topic: string) => {
      const c = ctx()
      const { schemas: list } = await c.http.call('GET', topicPath(topic, '/schemas'))
      c.out.result(list, () => table(list, ['version', 'compatibility', 'createdAt']))
    })
  schemas
    .command('get <topic> <version>')
    .description('one version, as JSON Schema')
    .action(async (topic: string, version: string) => {
      const c = ctx()
      const s = await c.http.call('GET', topicPath(topic, `/schemas/${int(version)}`))
      c.out.result(s)
    })
  schemas
    .command('register <topic> <file>')
    .description('register a JSON Schema file as the next version')
    .option('--compatibility <mode>', 'none | backward | forward | full')
    .action(async (topic: string, file: string, o) => {
      const c = ctx()
      const schema = JSON.parse(await readFile(file, 'utf8')) as unknown
      const body = { schema, ...(o.compatibility && { compatibility: o.compatibility }) }
      const s = await c.http.call('POST', topicPath(topic, '/schemas'), body)
      c.out.result(s, () => `registered schema version ${s.version} of ${topic}`)
    })

  const scheduled = program.command('scheduled').description('events scheduled for later delivery')
  scheduled
    .command('list')
    .description('scheduled events not yet delivered')
    .option('--topic <name>', 'of this topic only')
    .action(async (o) => {
      const c = ctx()
      const q = o.topic ? `?${new URLSearchParams({ topic: o.topic })}` : ''
      const { scheduled: list } = await c.http.call('GET', `/v1/scheduled${q}`)
      c.out.result(list, () => table(list, ['id', 'topic', 'deliverAt']))
    })
  scheduled
    .command('create <topic> <data>')
    .description('schedule one event (data as JSON) for a time or after a delay')
    .option('--at <iso>', 'deliver at this time (ISO-8601 with a time zone)')
    .option('--in <ms>', 'deliver after this many milliseconds', int)
    .option('-t, --type <type>', 'event type')
    .option('-k, --key <key>', 'partition key')
    .action(async (topic: string, data: string, o) => {
      const c = ctx()
      const event = { data: JSON.parse(data) as unknown, type: o.type, key: o.key }
      const body = { event, deliverAt: o.at, delayMs: o.in }
      const s = await c.http.call('POST', topicPath(topic, '/scheduled'), body)
      c.out.result(s, () => `scheduled ${s.id} for ${s.deliverAt}`)
    })
  scheduled
    .command('cancel <id>')
    .description('cancel a scheduled event')
    .action(async (id: string) => {
      const c = ctx()
      await c.http.call('DELETE', `/v1/scheduled/${encodeURIComponent(id)}`)
      c.out.result({ cancelled: id }, () => `cancelled scheduled event ${id}`)
    })

  program
    .command('brokers')
    .description("the cluster's live brokers")
    .action(async () => {
      const c = ctx()
      const { brokers } = await c.http.call('GET', '/v1/brokers')
      c.out.result(brokers, () => table(brokers, ['id', 'url', 'version', 'startedAt', 'lastSeenAt']))
    })
}
