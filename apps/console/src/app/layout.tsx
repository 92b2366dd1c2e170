import type { Metadata } from 'next'
import { connection } from 'next/server'
import type { ReactNode } from 'react'
import { Providers } from './providers'
import './globals.css'

export const metadata: Metadata = {
  title: 'Questlog console',
  description: 'Topics, messages and health of a Questlog event bus',
}

export default async function RootLayout({ children }: { children: ReactNode }) {
  // rendered for each request: a page built ahead of time could not carry the request's CSP nonce
  await connection()
  return (
    <html lang="en">
      <body>
        <Providers>{children}</Providers>
      </body>
    </html>
  )
}
