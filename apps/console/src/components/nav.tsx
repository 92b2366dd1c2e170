'use client'

import Link from 'next/link'
import { usePathname } from 'next/navigation'
import { useEffect, useState } from 'react'
import { markSigningOut } from '@/lib/trpc'
import { useEscape } from '@/lib/use-escape'
import { TimeZoneToggle } from './time-zone-toggle'

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

/**
 * The sidebar: beside the page on a wide screen (it stays in view as the page scrolls), a top bar
 * with a menu button on a narrow one, whose menu closes on a choice or on Escape.
 */
export function Nav({ who }: { who: Who }) {
  const path = usePathname()
  const [open, setOpen] = useState(false)
  // a link followed closes the menu
  // biome-ignore lint/correctness/useExhaustiveDependencies: path is the trigger, not an input
  useEffect(() => setOpen(false), [path])
  useEscape(open, () => setOpen(false))
  return (
    <nav className={open ? 'nav open' : 'nav'} aria-label="Main">
      <div className="nav-top">
        <div className="brand">Questlog</div>
        <button
          type="button"
          className="menu-button"
          aria-expanded={open}
          aria-controls="nav-menu"
          onClick={() => setOpen(!open)}
        >
          Menu
        </button>
      </div>
      <div className="nav-menu" id="nav-menu">
        {LINKS.map((l) => {
          const active = l.href === '/' ? path === '/' : path.startsWith(l.href)
          return (
            <Link
              key={l.href}
              href={l.href}
              className={active ? 'active' : undefined}
              aria-current={active ? 'page' : undefined}
            >
              {l.label}
            </Link>
          )
        })}
        <div className="who" data-testid="signed-in-as">
          <TimeZoneToggle />
          <span className="nav-muted">Signed in as</span>
          <strong>{who.name}</strong>
          <span className="mono nav-muted">{who.keyId}</span>
          {!who.configured && (
            <form method="post" action="/logout" onSubmit={markSigningOut}>
              <button type="submit">Sign out</button>
            </form>
          )}
        </div>
      </div>
    </nav>
  )
}
