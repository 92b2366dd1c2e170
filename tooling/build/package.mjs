// Builds a publishable package from its TypeScript source into dist/: an ES module bundle per entry
// (and a CommonJS one for Node packages), and one self-contained declaration file per entry, copied
// as .d.cts for `require`. Dependencies stay imports; only the package's own files are bundled.
//
//   node ../../tooling/build/package.mjs [--cjs] [--no-types] [--platform=node|browser|neutral] [name=src/file.ts …]
import { copyFile, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { build } from 'esbuild'
import { rollup } from 'rollup'
import { dts } from 'rollup-plugin-dts'

const args = process.argv.slice(2)
const cjs = args.includes('--cjs')
const types = !args.includes('--no-types')
const platform = args.find((a) => a.startsWith('--platform='))?.slice(11) ?? 'neutral'
const named = args.filter((a) => !a.startsWith('--'))
const entries = Object.fromEntries(
  (named.length > 0 ? named : ['index=src/index.ts']).map((spec) => spec.split('=')),
)

const pkg = JSON.parse(await readFile('package.json', 'utf8'))
const deps = [
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.peerDependencies ?? {}),
  ...Object.keys(pkg.optionalDependencies ?? {}),
]
// a dependency and any of its subpaths (`zod/v4/core`) are imports, never bundled
const isExternal = (id) => id.startsWith('node:') || deps.some((d) => id === d || id.startsWith(`${d}/`))

await rm('dist', { recursive: true, force: true })

const common = {
  entryPoints: entries,
  outdir: 'dist',
  bundle: true,
  platform,
  target: platform === 'browser' ? ['es2022'] : ['node20', 'es2022'],
  external: [...deps, ...deps.map((d) => `${d}/*`), 'node:*'],
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
  // `export *` of a dependency needs a bundle that keeps it an import
  mainFields: ['module', 'main'],
}
await build({ ...common, format: 'esm', outExtension: { '.js': '.js' } })
if (cjs) await build({ ...common, format: 'cjs', outExtension: { '.js': '.cjs' } })

if (types) {
  const bundle = await rollup({
    input: entries,
    external: isExternal,
    plugins: [dts({ tsconfig: 'tsconfig.json', compilerOptions: { noEmit: false } })],
    onwarn(warning, warn) {
      if (warning.code !== 'CIRCULAR_DEPENDENCY') warn(warning)
    },
  })
  await bundle.write({ dir: 'dist', format: 'es', entryFileNames: '[name].d.ts' })
  await bundle.close()
  if (cjs) for (const name of Object.keys(entries)) await copyFile(`dist/${name}.d.ts`, `dist/${name}.d.cts`)
}

console.log(
  `${pkg.name}: built ${Object.keys(entries).join(', ')} into ${path.join(path.basename(process.cwd()), 'dist')}`,
)
