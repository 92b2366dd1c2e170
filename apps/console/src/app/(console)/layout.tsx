import { redirect } from 'next/navigation'
import type { ReactNode } from 'react'
import { Nav } from '@/components/nav'
import { currentSession } from '@/lib/session'

/** Every screen but the login page: only for a signed-in operator. */
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const session = await currentSession()
  if (!session) redirect('/login')
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to main content
      </a>
      <Nav who={{ name: session.name, keyId: session.keyId, configured: session.configured }} />
      <main className="main" id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  )
}
