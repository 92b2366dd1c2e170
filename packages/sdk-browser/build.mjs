// Bundles the SDK into one ESM file a plain <script type="module"> can import.
import { createRequire } from 'node:module'
import path from 'node:path'
import { build } from 'esbuild'

const require = createRequire(import.meta.url)
const english = require.resolve('zod/v4/locales/en.js')

// zod re-exports every message locale (about 260 KiB) through `z.locales`; the SDK speaks English only
const englishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes('zod') ? { path: 'zod-locales', namespace: 'zod-locales' } : undefined,
    )
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, () => ({
      contents: `export { default as en } from ${JSON.stringify(english)}`,
      loader: 'js',
      resolveDir: path.dirname(english),
    }))
  },
}

const result = await build({
  entryPoints: ['src/index.ts'],
  outfile: 'dist/questlog.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  conditions: ['@questlog/source'],
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  metafile: true,
  legalComments: 'none',
  plugins: [englishOnly],
})
const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.bytes ?? 0
console.log(`dist/questlog.js: ${(bytes / 1024).toFixed(1)} KiB`)
