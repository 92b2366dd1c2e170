import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NextConfig } from 'next'

// npm workspaces hoist dependencies to the repository root
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const config: NextConfig = {
  reactStrictMode: true,
  // inside the repository the protocol package is taken from its TypeScript source (what the
  // `@questlog/source` export condition names for the other tools), so the console never sees a stale dist/
  transpilePackages: ['@questlog/protocol'],
  turbopack: { root, resolveAlias: { '@questlog/protocol': './../../packages/protocol/src/index.ts' } },
  outputFileTracingRoot: root,
  devIndicators: false,
  poweredByHeader: false,
  // on every response, static files included; the Content-Security-Policy comes from src/proxy.ts
  async headers() {
    return [
      {
        source: '/:path*',
        headers: [
          { key: 'X-Frame-Options', value: 'DENY' },
          { key: 'X-Content-Type-Options', value: 'nosniff' },
          // not no-referrer: browsers would then send `Origin: null` on the console's own form posts
          { key: 'Referrer-Policy', value: 'same-origin' },
        ],
      },
    ]
  },
}

export default config
