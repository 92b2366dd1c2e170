// What the browser SDK costs an app that bundles it: each case is a small app, bundled and
// minified with esbuild as an app build would, then gzipped. Shared by the size test (a budget)
// and `npm run bench` (the figures in the report).
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const here = path.dirname(fileURLToPath(import.meta.url))

export const SIZE_CASES = {
  'publish + subscribe': `import { createClient } from '@questlog/sdk-browser'
const bus = createClient({ brokers: [location.origin] })
bus.publish('telemetry', { fps: 60 })
for await (const ev of bus.subscribe('match.feed')) console.log(ev.data)`,
  'publish only': `import { createClient } from '@questlog/sdk-browser'
createClient({ brokers: [location.origin] }).publish('telemetry', { fps: 60 })`,
} as const

export interface BundleSize {
  case: keyof typeof SIZE_CASES
  minifiedBytes: number
  gzipBytes: number
}

/** Bundles each case against the package's source (or, with `dist`, its built files). */
export async function measureBundles(from: 'source' | 'dist' = 'source'): Promise<BundleSize[]> {
  const out: BundleSize[] = []
  for (const [name, code] of Object.entries(SIZE_CASES) as Array<[keyof typeof SIZE_CASES, string]>) {
    const result = await build({
      stdin: { contents: code, resolveDir: here, loader: 'js' },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
      write: false,
      logLevel: 'silent',
      conditions: from === 'source' ? ['@questlog/source'] : [],
    })
    const bytes = result.outputFiles[0]!.contents
    out.push({ case: name, minifiedBytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length })
  }
  return out
}
