import type { Command } from 'commander'
import { type Context, int } from '../context'

export function benchCommand(program: Command, ctx: () => Context): void {
  program
    .command('bench')
    .description('publish load against a broker and report events/s (the full suite is `npm run bench`)')
    .option('--topic <name>', 'topic to write (created when missing)', 'bench.cli')
    .option('--events <n>', 'events in all', int, 100_000)
    .option('--batch <n>', 'events per request', int, 1000)
    .option('--producers <n>', 'concurrent producers', int, 8)
    .option('--size <bytes>', 'payload size', int, 200)
    .option('--partitions <n>', 'partitions of a created topic', int, 8)
    .action(async (o) => {
      const c = ctx()
      const path = `/v1/topics/${encodeURIComponent(o.topic)}/events`
      const exists = await c.http.call('GET', `/v1/topics/${encodeURIComponent(o.topic)}`).catch(() => null)
      if (!exists) await c.http.call('POST', '/v1/topics', { name: o.topic, partitions: o.partitions })
      const payload = { pad: 'x'.repeat(Math.max(0, o.size - 20)), n: 0 }
      let sent = 0
      const started = performance.now()
      await Promise.all(
        Array.from({ length: o.producers }, async () => {
          while (sent < o.events) {
            const n = Math.min(o.batch, o.events - sent)
            sent += n
            const events = Array.from({ length: n }, (_, i) => ({
              key: `k${i % 64}`,
              data: { ...payload, n: i },
            }))
            await c.http.call('POST', path, { events })
            c.out.progress(sent, o.events, 'published')
          }
        }),
      )
      const seconds = (performance.now() - started) / 1000
      c.out.endProgress()
      const result = {
        events: o.events,
        seconds: Math.round(seconds * 100) / 100,
        eventsPerSecond: Math.round(o.events / seconds),
      }
      c.out.result(
        result,
        () => `${result.events} events in ${result.seconds} s: ${result.eventsPerSecond} events/s`,
      )
    })
}
