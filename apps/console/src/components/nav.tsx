'use client'

import Link from 'next/link'
import { usePathname } from 'next/navigation'
import { markSigningOut } from '@/lib/trpc'

const LINKS = [
  { href: '/', label: 'Overview' },
  { href: '/topics', label: 'Topics' },
  { href: '/brokers', label: 'Brokers' },
  { href: '/subscriptions', label: 'Subscriptions' },
  { href: '/replay-jobs', label: 'Replay jobs' },
  { href: '/dead-letters', label: 'Dead letters' },
  { href: '/access', label: 'Access keys' },
  { href: '/audit', label: 'Audit log' },
] as const

interface Who {
  name: string
  keyId: string
  /** Signed in by QUESTLOG_CONSOLE_KEY: there is no session to end. */
  configured: boolean
}

export function Nav({ who }: { who: Who }) {
  const path = usePathname()
  return (
    <nav className="nav" aria-label="Main">
      <div className="brand">Questlog</div>
      {LINKS.map((l) => {
        const active = l.href === '/' ? path === '/' : path.startsWith(l.href)
        return (
          <Link key={l.href} href={l.href} className={active ? 'active' : undefined}>
            {l.label}
          </Link>
        )
      })}
      <div className="who" data-testid="signed-in-as">
        <span className="muted">Signed in as</span>
        <strong>{who.name}</strong>
        <span className="mono muted">{who.keyId}</span>
        {!who.configured && (
          <form method="post" action="/logout" onSubmit={markSigningOut}>
            <button type="submit">Sign out</button>
          </form>
        )}
      </div>
    </nav>
  )
}
