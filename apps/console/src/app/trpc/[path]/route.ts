import { readEnv } from '@/env'
import { fromAnotherSite } from '@/lib/same-site'
import { currentSession, endSession } from '@/lib/session'
import { SESSION_HEADER, trpcError } from '@/lib/trpc-error'

// The browser talks to the console only; this forwards its tRPC calls to the broker with the
// signed-in operator's key, so neither the key nor the broker's address ever reaches the page.
export const dynamic = 'force-dynamic'

async function forward(req: Request, ctx: { params: Promise<{ path: string }> }): Promise<Response> {
  const { path } = await ctx.params
  const { QUESTLOG_BROKER_URL } = readEnv()
  const search = new URL(req.url).search
  const session = await currentSession()
  if (!session) {
    return trpcError(path, search, 401, 'unauthorized', 'Sign in to use the console.', {
      [SESSION_HEADER]: 'none',
    })
  }
  // the session cookie is SameSite=Strict; refusing foreign origins as well keeps other sites out for certain
  if (req.method !== 'GET' && fromAnotherSite(req)) {
    return trpcError(path, search, 403, 'forbidden', 'Calls from other sites are refused.')
  }
  const target = `${QUESTLOG_BROKER_URL.replace(/\/$/, '')}/trpc/${encodeURIComponent(path)}${search}`
  let res: Response
  try {
    res = await fetch(target, {
      method: req.method,
      headers: {
        'content-type': req.headers.get('content-type') ?? 'application/json',
        authorization: `Bearer ${session.key}`,
      },
      body: req.method === 'GET' ? undefined : await req.text(),
      cache: 'no-store',
      signal: AbortSignal.timeout(30_000),
    })
  } catch {
    const message = `The console cannot reach the broker at ${QUESTLOG_BROKER_URL}. Is it running?`
    return trpcError(path, search, 502, 'unavailable', message)
  }
  if (res.status === 401) {
    // the broker no longer accepts the key (revoked, expired): the session is over; the page signs in again
    const why = ((await res.json().catch(() => null)) as { error?: { message?: string } } | null)?.error
    if (!session.configured) await endSession()
    const message = why?.message ?? 'The broker refused the key.'
    return trpcError(path, search, 401, 'unauthorized', message, { [SESSION_HEADER]: 'key-refused' })
  }
  return new Response(await res.text(), {
    status: res.status,
    headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' },
  })
}

export const GET = forward
export const POST = forward
