import { readEnv } from '@/env'

// The browser talks to the console only; this forwards its tRPC calls to the broker,
// so the broker's address is configuration read at run time, not baked into the build.
export const dynamic = 'force-dynamic'

async function forward(req: Request, ctx: { params: Promise<{ path: string }> }): Promise<Response> {
  const { path } = await ctx.params
  const { QUESTLOG_BROKER_URL } = readEnv()
  const search = new URL(req.url).search
  const target = `${QUESTLOG_BROKER_URL.replace(/\/$/, '')}/trpc/${encodeURIComponent(path)}${search}`
  try {
    const res = await fetch(target, {
      method: req.method,
      headers: { 'content-type': req.headers.get('content-type') ?? 'application/json' },
      body: req.method === 'GET' ? undefined : await req.text(),
      cache: 'no-store',
      signal: AbortSignal.timeout(30_000),
    })
    return new Response(await res.text(), {
      status: res.status,
      headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' },
    })
  } catch {
    return unreachable(path, search, QUESTLOG_BROKER_URL)
  }
}

/** A tRPC-shaped error for every call of the request, so the page can say what is wrong. */
function unreachable(path: string, search: string, brokerUrl: string): Response {
  const message = `The console cannot reach the broker at ${brokerUrl}. Is it running?`
  const error = {
    error: {
      message,
      code: -32603,
      data: { code: 'BAD_GATEWAY', httpStatus: 502, path, questlog: { code: 'unavailable', message } },
    },
  }
  const batch = new URLSearchParams(search).get('batch') === '1'
  const body = batch ? path.split(',').map(() => error) : error
  return Response.json(body, { status: 502 })
}

export const GET = forward
export const POST = forward
