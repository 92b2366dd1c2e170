import type { Command } from 'commander'
import { type Context, collect, int } from '../context'
import { UsageError } from '../errors'
import { table } from '../output'

/** `publish,subscribe:game.*,chat.>` → one rule. */
function rule(effect: 'allow' | 'deny', spec: string) {
  const i = spec.indexOf(':')
  if (i < 1) throw new UsageError(`'${spec}' is not actions:topics (e.g. publish,subscribe:game.*)`)
  return { effect, actions: spec.slice(0, i).split(','), topics: spec.slice(i + 1).split(',') }
}

export function keysCommand(program: Command, ctx: () => Context): void {
  const keys = program.command('keys').description('create, list and revoke API keys (administrators)')
  keys
    .command('create <name>')
    .description('create a key; its secret is printed once')
    .option('--allow <actions:topics>', 'allow, e.g. publish,subscribe:game.* (repeatable)', collect, [])
    .option('--deny <actions:topics>', 'deny, e.g. publish:game.admin.> (repeatable)', collect, [])
    .option('--expires <iso>', 'expiry time')
    .option('--rate <events/s>', 'publish rate limit', int)
    .action(async (name: string, o) => {
      const c = ctx()
      const rules = [
        ...o.allow.map((s: string) => rule('allow', s)),
        ...o.deny.map((s: string) => rule('deny', s)),
      ]
      if (rules.length === 0) throw new UsageError('give at least one --allow rule')
      const body: Record<string, unknown> = { name, rules }
      if (o.expires) body.expiresAt = o.expires
      if (o.rate) body.rateEventsPerSec = o.rate
      const k = await c.http.call('POST', '/v1/keys', body)
      c.out.result(k, () => `created key ${k.id} (${k.name}); its secret, shown once:\n${k.key}`)
    })
  keys
    .command('list')
    .description('list keys (never their secrets)')
    .action(async () => {
      const c = ctx()
      const { keys: list } = await c.http.call('GET', '/v1/keys')
      c.out.result(list, () => table(list, ['id', 'name', 'createdAt', 'expiresAt', 'revokedAt']))
    })
  keys
    .command('revoke <id>')
    .description('revoke a key (and every token minted with it)')
    .action(async (id: string) => {
      const c = ctx()
      await c.http.call('DELETE', `/v1/keys/${encodeURIComponent(id)}`)
      c.out.result({ revoked: id }, () => `revoked key ${id}`)
    })
}
