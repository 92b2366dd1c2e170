import type { Command } from 'commander'
import { type Context, collect, int } from '../context'
import { UsageError } from '../errors'
import { table } from '../output'

const path = (name: string, rest = '') => `/v1/subscriptions/${encodeURIComponent(name)}${rest}`

/** `earliest`, `latest`, an offset or a time (ISO-8601 or relative, like 1h) → a start position. */
function position(value: string) {
  if (value === 'earliest' || value === 'latest') return value
  if (/^\d+$/.test(value)) return { offset: Number(value) }
  return { time: value }
}

export function subscriptionsCommand(program: Command, ctx: () => Context): void {
  const subs = program
    .command('subscriptions')
    .alias('subs')
    .description('list, describe, pause, resume, reset and delete subscriptions')
  subs
    .command('list')
    .description('list subscriptions')
    .action(async () => {
      const c = ctx()
      const { subscriptions: list } = await c.http.call('GET', '/v1/subscriptions')
      c.out.result(list, () => table(list, ['name', 'topic', 'mode', 'typeFilter', 'paused', 'createdAt']))
    })
  subs
    .command('describe <name>')
    .description('settings, members, lag and pending deliveries')
    .action(async (name: string) => {
      const c = ctx()
      const r = await c.http.call('GET', path(name))
      c.out.result(r, () => JSON.stringify(r, null, 2))
    })
  for (const [verb, what] of [
    ['pause', 'stop delivering (positions are kept)'],
    ['resume', 'deliver again after a pause'],
  ] as const)
    subs
      .command(`${verb} <name>`)
      .description(what)
      .action(async (name: string) => {
        const c = ctx()
        const r = await c.http.call('POST', path(name, `/${verb}`), {})
        c.out.result(r, () => `${r.paused ? 'paused' : 'resumed'} subscription ${r.name}`)
      })
  subs
    .command('reset <name>')
    .description('move every partition of a subscription to a position')
    .requiredOption('--to <position>', 'earliest | latest | <offset> | <time> (ISO-8601 or 1h)')
    .action(async (name: string, o) => {
      const c = ctx()
      const r = await c.http.call('POST', path(name, '/reset'), { to: position(o.to) })
      c.out.result(r, () => `reset subscription ${name} to ${o.to}`)
    })
  subs
    .command('delete <name>')
    .description('delete a subscription, its positions and pending deliveries')
    .action(async (name: string) => {
      const c = ctx()
      await c.http.call('DELETE', path(name))
      c.out.result({ deleted: name }, () => `deleted subscription ${name}`)
    })

  const dlq = program
    .command('dead-letters')
    .alias('dlq')
    .description("a queue subscription's dead letters: list and redrive")
  dlq
    .command('list <subscription>')
    .description('dead letters of a subscription, oldest first')
    .option('-n, --limit <n>', 'at most this many', int, 100)
    .option('--all', 'include those already redriven')
    .action(async (name: string, o) => {
      const c = ctx()
      const q = new URLSearchParams({ limit: String(o.limit), ...(o.all && { all: 'true' }) })
      const { deadLetters } = await c.http.call('GET', path(name, `/dead-letters?${q}`))
      c.out.result(deadLetters, () =>
        table(deadLetters, ['id', 'topic', 'partition', 'offset', 'deliveries', 'reason', 'deadAt']),
      )
    })
  dlq
    .command('redrive <subscription>')
    .description('deliver dead letters again: the listed ids, or --all')
    .option('--id <id>', 'a dead letter id (repeatable)', collect, [])
    .option('--all', 'every dead letter not yet redriven')
    .action(async (name: string, o) => {
      const c = ctx()
      const ids = (o.id as string[]).map((v) => int(v))
      if (Boolean(o.all) === ids.length > 0) throw new UsageError('give --all or at least one --id, not both')
      const r = await c.http.call('POST', path(name, '/redrive'), o.all ? { all: true } : { ids })
      c.out.result(r, () => `redrove ${r.redriven} dead letter(s) of ${name}`)
    })
}
