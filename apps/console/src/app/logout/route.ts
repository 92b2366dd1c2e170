import { fromAnotherSite } from '@/lib/same-site'
import { endSession } from '@/lib/session'

/**
 * Sign-out: a plain form POST answered with a redirect, so the browser loads the login page
 * afresh and nothing of the session's screens (cached data, polling) survives it.
 */
export async function POST(req: Request): Promise<Response> {
  if (fromAnotherSite(req)) {
    return new Response('Sign-out from another site is refused.', { status: 403 })
  }
  await endSession()
  return new Response(null, { status: 303, headers: { location: '/login?reason=signed-out' } })
}
