const TRPC = {
  401: { code: 'UNAUTHORIZED', json: -32001 },
  403: { code: 'FORBIDDEN', json: -32003 },
  502: { code: 'BAD_GATEWAY', json: -32603 },
} as const

/** On a 401, says why: `none` (no session, or it ended) or `key-refused` (the broker refused the session's key). */
export const SESSION_HEADER = 'x-questlog-session'

/**
 * A tRPC-shaped error for every call of the request (the broker's own refusals before tRPC runs
 * are plain JSON), with the Questlog code in `data.questlog` so the page can say what is wrong.
 */
export function trpcError(
  path: string,
  search: string,
  status: keyof typeof TRPC,
  questlogCode: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  const error = {
    error: {
      message,
      code: TRPC[status].json,
      data: { code: TRPC[status].code, httpStatus: status, path, questlog: { code: questlogCode, message } },
    },
  }
  const batch = new URLSearchParams(search).get('batch') === '1'
  const body = batch ? path.split(',').map(() => error) : error
  return Response.json(body, { status, headers })
}
