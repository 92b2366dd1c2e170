import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'
import { freePort } from '../src/storage/embedded'
import { freshDatabase, sleep } from './helpers'

const brokerDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const MAIN = path.join(brokerDir, 'src/main.ts')

/** An admin key the cluster tests start their brokers with (QUESTLOG_ADMIN_KEY). */
export const CLUSTER_ADMIN_KEY = `ql_clusteradm01_${'C'.repeat(43)}`
export const ADMIN = { authorization: `Bearer ${CLUSTER_ADMIN_KEY}` } as const

/** Quick heartbeats so deaths show within a test's patience; the defaults are 1000 / 5000. */
export const FAST_CLUSTER = { QUESTLOG_HEARTBEAT_MS: '200', QUESTLOG_BROKER_DEAD_AFTER_MS: '1500' } as const

/** One broker in a process of its own: `kill -9` it, stall it (SIGSTOP) or stop it cleanly. */
export interface BrokerProcess {
  url: string
  port: number
  pid: number
  /** Its registry id (from /health). */
  id: string
  /** The last few kB it printed. */
  output(): string
  /** SIGKILL: no goodbye, its sockets and database sessions cut by the kernel. */
  kill(): Promise<void>
  /** SIGSTOP: alive to the kernel, silent to everyone; `resume` sends SIGCONT. */
  pause(): void
  resume(): void
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>
  readonly exited: boolean
}

/**
 * Several brokers as several processes on one database, each `node --import tsx src/main.ts`
 * with its own PORT, as an operator would run them. Every process a test started is stopped by
 * its PID after the test, whatever happened (brokers left running would load the next test's machine).
 */
export function brokerProcesses() {
  const started: BrokerProcess[] = []
  afterEach(async () => {
    await Promise.all(started.splice(0).map((b) => b.stop()))
  })
  return {
    /** A new database and `n` brokers on it. */
    async cluster(
      n: number,
      env: Record<string, string> = {},
    ): Promise<{ databaseUrl: string; brokers: BrokerProcess[] }> {
      const databaseUrl = await freshDatabase()
      // the first one migrates alone; the rest start together
      const first = await this.start(databaseUrl, env)
      const rest = await Promise.all(Array.from({ length: n - 1 }, () => this.start(databaseUrl, env)))
      return { databaseUrl, brokers: [first, ...rest] }
    },
    /** One more broker on `databaseUrl`. */
    async start(databaseUrl: string, env: Record<string, string> = {}): Promise<BrokerProcess> {
      const b = await startBrokerProcess(databaseUrl, env)
      started.push(b)
      return b
    },
  }
}

async function startBrokerProcess(databaseUrl: string, env: Record<string, string>): Promise<BrokerProcess> {
  // a PORT of the caller's starts a broker again where a killed one was
  const port = env.PORT ? Number(env.PORT) : await freePort()
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: brokerDir,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      QUESTLOG_ADMIN_KEY: CLUSTER_ADMIN_KEY,
      LOG_LEVEL: 'warn',
      // names its database sessions in pg_stat_activity, for whoever debugs a test
      PGAPPNAME: `ql-broker-${port}`,
      ...FAST_CLUSTER,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const keep = (c: Buffer) => {
    out = (out + c.toString()).slice(-8000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  let exited = false
  let asked = false
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, sig) => {
      exited = true
      // a broker that dies on its own is a finding: say what it printed
      if (!asked) console.error(`broker on port ${port} exited by itself (${code ?? sig}):\n${out}`)
      resolve()
    }),
  )
  const url = `http://127.0.0.1:${port}`
  const signal = async (sig: NodeJS.Signals, graceMs: number) => {
    asked = true
    if (exited) return
    child.kill(sig)
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    await exit
    clearTimeout(timer)
  }
  const deadline = Date.now() + 60_000
  let id: string | undefined
  while (id === undefined) {
    if (exited) throw new Error(`the broker exited before it was ready:\n${out}`)
    if (Date.now() > deadline) {
      await signal('SIGKILL', 0)
      throw new Error(`the broker at ${url} was not ready within 60 s:\n${out}`)
    }
    try {
      const res = await fetch(`${url}/health`)
      if (res.ok) id = ((await res.json()) as { brokerId: string }).brokerId
      else await res.arrayBuffer()
    } catch {
      await sleep(50)
    }
  }
  return {
    url,
    port,
    pid: child.pid!,
    id,
    output: () => out,
    kill: () => signal('SIGKILL', 0),
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: async () => {
      // a paused process takes no SIGTERM until it runs again
      child.kill('SIGCONT')
      await signal('SIGTERM', 10_000)
    },
    get exited() {
      return exited
    },
  }
}

/** Polls `check` until it returns a value other than undefined, or fails after `ms`. */
export async function waitFor<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const got = await check().catch(() => undefined)
    if (got !== undefined) return got
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await sleep(50)
  }
}
