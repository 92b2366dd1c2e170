import type { ReactNode } from 'react'
import { Nav } from '@/components/nav'
import type { Session } from '@/lib/session'

/** The frame of every signed-in screen: a skip link past the sidebar, the sidebar, the main content. */
export function ConsoleFrame({ session, children }: { session: Session; children: ReactNode }) {
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
