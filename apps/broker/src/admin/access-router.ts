import { createKeySchema } from '@questlog/protocol'
import { z } from 'zod'
import { procedure, router } from './trpc'

/** API keys for the console's Access screen; the secret is in create's answer, once. */
export const keysRouter = router({
  list: procedure.query(({ ctx }) => ctx.s.keys.list()),
  create: procedure.input(createKeySchema).mutation(async ({ ctx, input }) => {
    const { key, info } = await ctx.s.keys.create(input)
    return { ...info, key }
  }),
  revoke: procedure.input(z.object({ id: z.string().min(1).max(64) })).mutation(async ({ ctx, input }) => {
    await ctx.s.keys.revoke(input.id)
    return { revoked: input.id }
  }),
})

// how far back one filtered page looks, so a rare outcome cannot make a request scan the whole log
const MAX_SCANNED = 5000

/** The audit log, newest first, optionally only one outcome (`ok`, `unauthenticated`, `forbidden`). */
export const auditRouter = router({
  list: procedure
    .input(
      z.object({
        limit: z.number().int().min(1).max(1000).default(100),
        before: z.number().int().min(1).optional(),
        outcome: z.string().min(1).max(40).optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      if (!input.outcome) return ctx.s.audit.list(input.limit, input.before)
      const found: Awaited<ReturnType<typeof ctx.s.audit.list>> = []
      let before = input.before
      for (let scanned = 0; scanned < MAX_SCANNED && found.length < input.limit; scanned += 500) {
        const page = await ctx.s.audit.list(500, before)
        found.push(...page.filter((e) => e.outcome === input.outcome))
        if (page.length < 500) break
        before = page.at(-1)!.id
      }
      return found.slice(0, input.limit)
    }),
})
