import type { AdminRouter } from '@questlog/broker'
import { createTRPCClient, httpBatchLink } from '@trpc/client'

/**
 * The broker's admin API, typed by its router: a renamed field breaks this build.
 * Calls go to the console's own /trpc route, which forwards them to the broker.
 * Queries run in the browser only; the server-side URL exists so the module loads during prerendering.
 */
export const trpc = createTRPCClient<AdminRouter>({
  links: [httpBatchLink({ url: typeof window === 'undefined' ? 'http://127.0.0.1/trpc' : '/trpc' })],
})
