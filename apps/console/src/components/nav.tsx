'use client'

import Link from 'next/link'
import { usePathname } from 'next/navigation'

const LINKS = [
  { href: '/', label: 'Overview' },
  { href: '/topics', label: 'Topics' },
  { href: '/brokers', label: 'Brokers' },
  { href: '/subscriptions', label: 'Subscriptions' },
  { href: '/replay-jobs', label: 'Replay jobs' },
  { href: '/dead-letters', label: 'Dead letters' },
  { href: '/access', label: 'Access keys' },
] as const

export function Nav() {
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
    </nav>
  )
}
