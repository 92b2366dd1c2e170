import Link from 'next/link'
import { ConsoleFrame } from '@/components/console-frame'
import { PageHeader } from '@/components/states'
import { currentSession } from '@/lib/session'

/**
 * An address the console has no screen for (404). A signed-in operator sees it inside the console's
 * frame, with the sidebar and the way back; anyone else, beside the way to sign in.
 */
export default async function NotFound() {
  const session = await currentSession()
  if (!session)
    return (
      <main className="login">
        <section className="panel login-panel">
          <h1>Page not found</h1>
          <p>
            There is no screen at this address. <Link href="/login">Sign in</Link> to the Questlog console.
          </p>
        </section>
      </main>
    )
  return (
    <ConsoleFrame session={session}>
      <PageHeader title="Page not found" />
      <div className="empty" data-testid="not-found">
        <h2>There is no screen at this address</h2>
        <p>
          The link may be old or mistyped. Go to the <Link href="/">overview</Link>, or find it among the{' '}
          <Link href="/topics">topics</Link> and <Link href="/subscriptions">subscriptions</Link>.
        </p>
      </div>
    </ConsoleFrame>
  )
}
