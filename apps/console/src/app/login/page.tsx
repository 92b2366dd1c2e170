import { redirect } from 'next/navigation'
import { currentSession } from '@/lib/session'
import { LoginForm } from './login-form'

const REASONS: Record<string, { text: string; alert: boolean }> = {
  expired: { text: 'Your key was revoked or has expired; sign in again.', alert: true },
  ended: { text: 'Your session has ended; sign in again.', alert: true },
  'signed-out': { text: 'You are signed out.', alert: false },
}

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ reason?: string }> }) {
  const { reason } = await searchParams
  const session = await currentSession()
  // a pre-configured key needs no login; an expired session's cookie is already gone
  if (session && reason !== 'expired' && reason !== 'ended') redirect('/')
  const note = reason ? REASONS[reason] : undefined
  return (
    <main className="login">
      <section className="panel login-panel">
        <div className="brand">Questlog</div>
        <h1>Sign in to the console</h1>
        {note && (
          <div
            className={note.alert ? 'error-note' : 'ok-note'}
            role={note.alert ? 'alert' : 'status'}
            data-testid="login-reason"
          >
            {note.text}
          </div>
        )}
        <LoginForm />
        <p className="muted">
          The broker prints an admin key at its first start (and keeps it beside its data when it runs its own
          PostgreSQL); <span className="mono">QUESTLOG_ADMIN_KEY</span> sets one. The key stays on the
          console's server, in an encrypted cookie, and is never readable by scripts in this page.
        </p>
      </section>
    </main>
  )
}
