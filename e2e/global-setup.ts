import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type Broker,
  createBroker,
  type EmbeddedDatabase,
  freePort,
  startEmbeddedPostgres,
} from '@questlog/broker'
import { ADMIN_KEY, BROKER_URL_VAR, CONSOLE_URL_VAR, DATABASE_URL_VAR } from './stack-env'

const here = path.dirname(fileURLToPath(import.meta.url))
const consoleDir = path.resolve(here, '../apps/console')
const next = createRequire(path.join(consoleDir, 'package.json')).resolve('next/dist/bin/next')

/**
 * Starts the whole stack on free ports: a real PostgreSQL in a temporary folder,
 * a broker on it, and the console's production build pointed at that broker.
 * Returns the teardown, which stops each of them (the console by its PID).
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'questlog-e2e-'))
  // the server runs as the unprivileged postgres user when we are root: it must reach its folder
  await chmod(dir, 0o755)
  let db: EmbeddedDatabase | undefined
  let broker: Broker | undefined
  let consoleProcess: ChildProcess | undefined
  const teardown = async () => {
    if (consoleProcess) await stopProcess(consoleProcess)
    await broker?.stop()
    await db?.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    db = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg') })
    // subscription gauges (and so the lag charts) refresh five times a second instead of every 5 s
    // auth on, as in production: the console and the tests sign in with ADMIN_KEY
    broker = await createBroker({
      port: 0,
      databaseUrl: db.url,
      logLevel: 'warn',
      statsIntervalMs: 200,
      auth: 'on',
      adminKey: ADMIN_KEY,
    })
    buildConsoleOnce()
    const started = await startConsole(broker.url)
    consoleProcess = started.process
    const consoleUrl = started.url
    await waitForHttp(`${consoleUrl}/login`, consoleProcess)
    process.env[BROKER_URL_VAR] = broker.url
    process.env[CONSOLE_URL_VAR] = consoleUrl
    process.env[DATABASE_URL_VAR] = db.url
    return teardown
  } catch (e) {
    await teardown()
    throw e
  }
}

/** The console's production build on a free port, pointed at `brokerUrl`; stop it with `stopProcess`. */
export async function startConsole(
  brokerUrl: string,
  env: Record<string, string> = {},
): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn(process.execPath, [next, 'start', '--port', String(port), '--hostname', '127.0.0.1'], {
    cwd: consoleDir,
    env: { ...process.env, ...env, QUESTLOG_BROKER_URL: brokerUrl, NEXT_TELEMETRY_DISABLED: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
    // its own process group, so stopping it stops whatever it forks too
    detached: true,
  })
  try {
    await waitForHttp(`${url}/icon.svg`, child)
  } catch (e) {
    await stopProcess(child)
    throw e
  }
  return { url, process: child }
}

/** `turbo run test` builds the console first; a bare `playwright test` on a fresh checkout builds it here. */
function buildConsoleOnce(): void {
  if (existsSync(path.join(consoleDir, '.next', 'BUILD_ID')) && !process.env.QUESTLOG_E2E_REBUILD) return
  const built = spawnSync(process.execPath, [next, 'build'], {
    cwd: consoleDir,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    stdio: 'inherit',
  })
  if (built.status !== 0) throw new Error(`the console's build failed (exit ${built.status})`)
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the console exited with ${child.exitCode} while starting`)
    try {
      const res = await fetch(url)
      if (res.ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`)
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s)
    } catch {}
  }
  signal('SIGTERM')
  const timer = setTimeout(() => signal('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}
