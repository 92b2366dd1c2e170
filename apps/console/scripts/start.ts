// `npm start`: serves the production build, building it first on a fresh checkout.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { readEnv } from '../src/env'

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const next = createRequire(import.meta.url).resolve('next/dist/bin/next')
const env = readEnv()

if (!existsSync(path.join(dir, '.next', 'BUILD_ID'))) {
  console.log('console: no production build yet, building it first (a minute or two)')
  const built = spawnSync(process.execPath, [next, 'build'], { cwd: dir, stdio: 'inherit' })
  if (built.status !== 0) process.exit(built.status ?? 1)
}
if (!env.QUESTLOG_CONSOLE_SECRET) {
  console.log(
    'console: QUESTLOG_CONSOLE_SECRET is not set; sessions use a secret drawn now and end when the console restarts',
  )
}
if (env.QUESTLOG_CONSOLE_KEY) {
  console.log(
    'console: QUESTLOG_CONSOLE_KEY is set; anyone who can open the console administers the broker with it',
  )
}
const args = ['start', '--port', String(env.PORT), '--hostname', env.QUESTLOG_CONSOLE_HOST]
const child = spawn(process.execPath, [next, ...args], { cwd: dir, stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal))
child.on('exit', (code) => process.exit(code ?? 0))
