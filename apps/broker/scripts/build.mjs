// Bundles the broker's TypeScript (and the protocol package it imports) into dist/, so the broker
// starts as plain JavaScript: no compile step at start, less memory. npm packages stay external.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
const external = Object.keys(pkg.dependencies)
  .filter((name) => !name.startsWith('@questlog/'))
  .flatMap((name) => [name, `${name}/*`])

await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/main.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  // the workspace packages bundled in are taken from their source
  conditions: ['@questlog/source'],
  format: 'esm',
  target: 'node20',
  external,
  sourcemap: 'linked',
  logLevel: 'warning',
})
