import type { AdminRouter } from '@questlog/broker'
import { createTRPCClient, httpBatchLink } from '@trpc/client'
import { SESSION_HEADER } from './trpc-error'

// set once the page is on its way out: later 401s (screens keep polling) must not race that first redirect
let leaving = false

/** Signing out ends the session while screens still poll: their 401s must not race the sign-out's own redirect. */
export function markSigningOut(): void {
  leaving = true
}

/**
 * Every call goes through here: a 401 means the broker refused the session's key (revoked,
 * expired), or the session itself ended, so the page goes back to the login page, which says which.
 */
const signInOn401: typeof fetch = async (input, init) => {
  const res = await fetch(input, init)
  if (res.status === 401 && typeof window !== 'undefined' && !leaving) {
    leaving = true
    const refused = res.headers.get(SESSION_HEADER) === 'key-refused'
    window.location.assign(refused ? '/login?reason=expired' : '/login?reason=ended')
  }
  return res
}

/**
 * The broker's admin API, typed by its router: a renamed field breaks this build.
 * Calls go to the console's own /trpc route, which forwards them to the broker with the session's key.
 * Queries run in the browser only; the server-side URL exists so the module loads during prerendering.
 */
export const trpc = createTRPCClient<AdminRouter>({
  links: [
    httpBatchLink({
      url: typeof window === 'undefined' ? 'http://127.0.0.1/trpc' : '/trpc',
      fetch: signInOn401,
    }),
  ],
})
