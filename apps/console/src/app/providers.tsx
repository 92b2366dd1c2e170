'use client'

import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { type ReactNode, useState } from 'react'
import { questlogError } from '@/lib/errors'

/** A refused request (unknown topic, bad input) fails the same way again: retry only the rest. */
function retry(failures: number, error: unknown): boolean {
  const code = questlogError(error)?.code
  return failures < 1 && (code === undefined || code === 'unavailable' || code === 'internal')
}

export function Providers({ children }: { children: ReactNode }) {
  const [client] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: { retry, refetchOnWindowFocus: false, staleTime: 1000 },
        },
      }),
  )
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>
}
