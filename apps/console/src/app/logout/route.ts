import { endSession } from '@/lib/session'

/**
 * Sign-out: a plain form POST answered with a redirect, so the browser loads the login page
 * afresh and nothing of the session's screens (cached data, polling) survives it.
 */
export async function POST(req: Request): Promise<Response> {
  const origin = req.headers.get('origin')
  if (origin && new URL(origin).host !== req.headers.get('host')) {
    return new Response('Sign-out from another site is refused.', { status: 403 })
  }
  await endSession()
  return new Response(null, { status: 303, headers: { location: '/login?reason=signed-out' } })
}
