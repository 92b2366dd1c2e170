import type { AdminRouter } from '@questlog/broker'
import { createTRPCClient, httpBatchLink } from '@trpc/client'

/** The broker's admin API, typed by its router: a renamed field breaks this build. */
export const trpc = createTRPCClient<AdminRouter>({
  links: [httpBatchLink({ url: typeof window === 'undefined' ? 'http://127.0.0.1/trpc' : '/trpc' })],
})
