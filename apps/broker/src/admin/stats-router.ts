import { subscriptionNameSchema } from '@questlog/protocol'
import { z } from 'zod'
import { STATS_WINDOWS } from '../observability/timeseries'
import { procedure, router } from './trpc'

/** Health over time for the console's charts, from the broker's in-memory sampler. */
export const statsRouter = router({
  series: procedure
    .input(z.object({ window: z.enum(STATS_WINDOWS).default('5m') }))
    .query(({ ctx, input }) => ({ ...ctx.s.stats.series(input.window), now: Date.now() })),
  /** One subscription's lag per partition over the last minutes, sampled by the subscription stats collector. */
  subscriptionLag: procedure
    .input(z.object({ name: subscriptionNameSchema }))
    .query(({ ctx, input }) => ({ ...ctx.s.stats.subscriptionLag(input.name), now: Date.now() })),
})
