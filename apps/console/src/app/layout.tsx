import type { Metadata } from 'next'
import type { ReactNode } from 'react'
import { Nav } from '@/components/nav'
import { Providers } from './providers'
import './globals.css'

export const metadata: Metadata = {
  title: 'Questlog console',
  description: 'Topics, messages and health of a Questlog event bus',
}

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers>
          <div className="shell">
            <Nav />
            <main className="main">{children}</main>
          </div>
        </Providers>
      </body>
    </html>
  )
}
