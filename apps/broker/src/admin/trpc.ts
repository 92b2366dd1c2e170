import { BadRequestError, isQuestlogError, MAX_BODY_DEPTH, nestsDeeperThan } from '@questlog/protocol'
import { initTRPC, TRPCError } from '@trpc/server'
import { type Principal, requireSuperuser } from '../auth/principal'
import { toQuestlogError } from '../errors'
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

const INTERNAL = { code: 'internal', message: 'internal error' } as const

const t = initTRPC.context<AdminContext>().create({
  // never a stack in an error (tRPC adds one outside production): it names the broker's files
  isDev: false,
  // the Questlog code and field paths travel in `data.questlog`, the same shape as HTTP errors;
  // an unexpected failure says only that (its text may name files or SQL): the broker logs it
  errorFormatter({ shape, error }) {
    const cause = error.cause
    const { error: qe } = toQuestlogError(cause ?? error)
    const coded = isQuestlogError(cause) || qe.code !== 'internal'
    const hidden = !coded && error.code === 'INTERNAL_SERVER_ERROR'
    const { stack: _stack, ...data } = shape.data
    return {
      ...shape,
      message: coded ? qe.message : hidden ? INTERNAL.message : shape.message,
      data: { ...data, questlog: coded ? qe.toJSON().error : hidden ? INTERNAL : null },
    }
  },
})

/** Converts thrown errors the broker knows (its own, zod's, URIError…) into TRPCErrors with the matching code. */
const errors = t.middleware(async ({ next }) => {
  const result = await next()
  if (!result.ok && result.error.cause !== undefined) {
    const cause = result.error.cause
    const { error: qe } = toQuestlogError(cause)
    if (isQuestlogError(cause) || qe.code !== 'internal') {
      const code = TRPC_CODE[qe.status as keyof typeof TRPC_CODE] ?? 'INTERNAL_SERVER_ERROR'
      throw new TRPCError({ code, message: qe.message, cause: qe })
    }
  }
  return result
})

/** Input nested past what the handlers' recursive walks take is refused before any of them runs. */
const bounded = t.middleware(async ({ getRawInput, next }) => {
  if (nestsDeeperThan(await getRawInput(), MAX_BODY_DEPTH)) {
    throw new BadRequestError(`the input nests deeper than ${MAX_BODY_DEPTH} levels`)
  }
  return next()
})

const administrators = t.middleware(({ ctx, next }) => {
  requireSuperuser(ctx.principal)
  return next()
})

export const router = t.router
export const procedure = t.procedure.use(errors).use(administrators).use(bounded)
