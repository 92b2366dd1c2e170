import { type NextRequest, NextResponse } from 'next/server'

/**
 * A Content Security Policy with a fresh nonce per page: Next.js reads the nonce from the
 * request's policy and puts it on its own scripts, so no other script runs, and no other site
 * may frame the console (clickjacking a signed-in operator).
 */
export function proxy(request: NextRequest): NextResponse {
  const nonce = Buffer.from(crypto.randomUUID()).toString('base64')
  // React's development build evaluates code to rebuild server stacks; production never does
  const dev = process.env.NODE_ENV === 'development'
  const policy = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ''}`,
    `style-src 'self' 'nonce-${nonce}'${dev ? " 'unsafe-inline'" : ''}`,
    // React sets style attributes (a progress bar's width); an attribute cannot carry a nonce
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ')
  const headers = new Headers(request.headers)
  headers.set('content-security-policy', policy)
  const response = NextResponse.next({ request: { headers } })
  response.headers.set('content-security-policy', policy)
  return response
}

export const config = {
  // pages only: the static files and the tRPC proxy's JSON run no script
  matcher: [
    {
      source: '/((?!_next/static|_next/image|icon.svg|trpc/).*)',
      missing: [
        { type: 'header', key: 'next-router-prefetch' },
        { type: 'header', key: 'purpose', value: 'prefetch' },
      ],
    },
  ],
}
