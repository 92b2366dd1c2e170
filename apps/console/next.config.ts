import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NextConfig } from 'next'

// npm workspaces hoist dependencies to the repository root
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const config: NextConfig = {
  reactStrictMode: true,
  // the protocol package ships TypeScript source
  transpilePackages: ['@questlog/protocol'],
  turbopack: { root },
  outputFileTracingRoot: root,
  devIndicators: false,
}

export default config
