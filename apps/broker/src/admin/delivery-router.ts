import {
  createReplaySchema,
  createSubscriptionSchema,
  redriveRequestSchema,
  resetRequestSchema,
  subscriptionNameSchema,
} from '@questlog/protocol'
import { z } from 'zod'
import { requireNewSubscription, requireReplay } from '../auth/consumer-access'
import { deadLetterViews, reportView, subscriptionView } from '../delivery/views'
import { subscriptionPage, subscriptionPageSchema } from './list-pages'
import { procedure, router } from './trpc'

const byName = z.object({ name: subscriptionNameSchema })

/** Subscriptions, dead letters and replay jobs for the console. */
export const subscriptionsRouter = router({
  list: procedure.query(async ({ ctx }) => {
    const subs = await ctx.s.delivery.subs.list()
    return Promise.all(subs.map(async (s) => reportView(await ctx.s.delivery.report(s.name))))
  }),
  /** One page of the subscription list, with the lag the stats collector stored last, in one query. */
  page: procedure.input(subscriptionPageSchema).query(({ ctx, input }) => subscriptionPage(ctx.s.sql, input)),
  get: procedure
    .input(byName)
    .query(async ({ ctx, input }) => reportView(await ctx.s.delivery.report(input.name))),
  // administrators too name only what their rules allow: a deny rule holds here as over HTTP
  create: procedure.input(createSubscriptionSchema).mutation(async ({ ctx, input }) => {
    requireNewSubscription(ctx.principal, input)
    const sub = await ctx.s.delivery.create(input, ctx.s.quotas.owner(ctx.principal))
    return reportView(await ctx.s.delivery.report(sub.name))
  }),
  pause: procedure
    .input(byName)
    .mutation(async ({ ctx, input }) => subscriptionView(await ctx.s.delivery.pause(input.name, true))),
  resume: procedure
    .input(byName)
    .mutation(async ({ ctx, input }) => subscriptionView(await ctx.s.delivery.pause(input.name, false))),
  reset: procedure.input(byName.extend(resetRequestSchema.shape)).mutation(async ({ ctx, input }) => {
    await ctx.s.delivery.reset(input.name, input.to)
    return reportView(await ctx.s.delivery.report(input.name))
  }),
  delete: procedure.input(byName).mutation(async ({ ctx, input }) => {
    await ctx.s.delivery.delete(input.name)
    return { deleted: input.name }
  }),
  deadLetters: procedure
    .input(
      byName.extend({
        limit: z.number().int().min(1).max(1000).default(100),
        includeRedriven: z.boolean().default(false),
      }),
    )
    .query(async ({ ctx, input }) => {
      const sub = await ctx.s.delivery.subs.get(input.name)
      const rows = await ctx.s.delivery.deadLetters.list(sub, input)
      const topics = new Map((await ctx.s.topics.list()).map((t) => [t.id, t.name]))
      return deadLetterViews(ctx.s.sql, rows, topics)
    }),
  redrive: procedure
    .input(z.object({ name: subscriptionNameSchema, select: redriveRequestSchema }))
    .mutation(async ({ ctx, input }) => {
      const sub = await ctx.s.delivery.subs.get(input.name)
      return {
        redriven: await ctx.s.delivery.deadLetters.redrive(
          sub,
          'all' in input.select ? 'all' : input.select.ids,
        ),
      }
    }),
})

export const replaysRouter = router({
  list: procedure.query(({ ctx }) => ctx.s.replays.list()),
  get: procedure
    .input(z.object({ id: z.string().uuid() }))
    .query(({ ctx, input }) => ctx.s.replays.get(input.id)),
  create: procedure.input(createReplaySchema).mutation(async ({ ctx, input }) => {
    await requireReplay(ctx.principal, ctx.s.delivery.subs, input)
    return ctx.s.replays.create(input)
  }),
  cancel: procedure
    .input(z.object({ id: z.string().uuid() }))
    .mutation(({ ctx, input }) => ctx.s.replays.cancel(input.id)),
})
