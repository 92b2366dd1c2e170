import { isQuestlogError } from '@questlog/protocol'
import { initTRPC, TRPCError } from '@trpc/server'
import { type Principal, requireSuperuser } from '../auth/principal'
import { toQuestlogError } from '../http/errors'
import type { Services } from '../services'

export interface AdminContext {
  s: Services
  /** The caller; the admin API is for administrators (admin on every topic). */
  principal: Principal
}

const TRPC_CODE = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE',
  504: 'TIMEOUT',
} as const

const t = initTRPC.context<AdminContext>().create({
  // the Questlog code and field paths travel in `data.questlog`, the same shape as HTTP errors
  errorFormatter({ shape, error }) {
    const cause = error.cause
    const { error: qe } = toQuestlogError(cause ?? error)
    const coded = isQuestlogError(cause) || cause?.name === 'ZodError' || error.code === 'BAD_REQUEST'
    return {
      ...shape,
      message: coded ? qe.message : shape.message,
      data: { ...shape.data, questlog: coded ? qe.toJSON().error : null },
    }
  },
})

/** Converts thrown Questlog errors into TRPCErrors with the matching code. */
const errors = t.middleware(async ({ next }) => {
  const result = await next()
  if (!result.ok) {
    const cause = result.error.cause
    if (isQuestlogError(cause)) {
      const code = TRPC_CODE[cause.status as keyof typeof TRPC_CODE] ?? 'INTERNAL_SERVER_ERROR'
      throw new TRPCError({ code, message: cause.message, cause })
    }
  }
  return result
})

const administrators = t.middleware(({ ctx, next }) => {
  requireSuperuser(ctx.principal)
  return next()
})

export const router = t.router
export const procedure = t.procedure.use(errors).use(administrators)
