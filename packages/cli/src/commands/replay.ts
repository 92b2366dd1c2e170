import type { Command } from 'commander'
import { type Context, int } from '../context'
import { UsageError } from '../errors'

export function replayCommand(program: Command, ctx: () => Context): void {
  program
    .command('replay <topic>')
    .description('re-deliver a range of a topic into a subscription or another topic, showing progress')
    .option('--since <time>', 'start of a time range (ISO-8601 or 1h, 15m ago)')
    .option('--until <time>', 'end of the time range (exclusive)')
    .option('--from-offset <n>', 'start of an offset range', int)
    .option('--to-offset <n>', 'end of the offset range (exclusive)', int)
    .option('--type <pattern>', 'only events whose type matches')
    .option('--key <key>', 'only events with this key')
    .option('--to-subscription <name>', 'deliver into this queue subscription (created when missing)')
    .option('--to-topic <name>', 'deliver into this topic')
    .option('--rate <events/s>', 'pace the replay', int)
    .option('--no-wait', 'return once the job is created')
    .action(async (topic: string, o) => {
      const c = ctx()
      if (!o.toSubscription === !o.toTopic)
        throw new UsageError('give one of --to-subscription or --to-topic')
      const spec: Record<string, unknown> = {
        topic,
        filter: { ...(o.type && { type: o.type }), ...(o.key && { key: o.key }) },
        target: o.toTopic ? { topic: o.toTopic } : { subscription: o.toSubscription },
      }
      for (const k of ['since', 'until', 'fromOffset', 'toOffset'] as const)
        if (o[k] !== undefined) spec[k] = o[k]
      if (o.rate !== undefined) spec.maxEventsPerSecond = o.rate
      let job = await c.http.call('POST', '/v1/replays', spec)
      while (o.wait && (job.status === 'pending' || job.status === 'running')) {
        c.out.progress(job.scanned, job.total, `replay ${job.id.slice(0, 8)} scanned`)
        await new Promise((r) => setTimeout(r, 250))
        job = await c.http.call('GET', `/v1/replays/${job.id}`)
      }
      if (o.wait) c.out.endProgress()
      c.out.result(
        job,
        () =>
          `replay ${job.id}: ${job.status}, ${job.delivered} delivered of ${job.scanned} scanned (${job.percent}%)`,
      )
    })
}
