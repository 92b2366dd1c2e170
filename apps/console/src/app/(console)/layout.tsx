import { redirect } from 'next/navigation'
import type { ReactNode } from 'react'
import { ConsoleFrame } from '@/components/console-frame'
import { currentSession } from '@/lib/session'

/** Every screen but the login page: only for a signed-in operator. */
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const session = await currentSession()
  if (!session) redirect('/login')
  return <ConsoleFrame session={session}>{children}</ConsoleFrame>
}
