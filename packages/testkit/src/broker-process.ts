import { type ChildProcess, execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '@questlog/broker'
import { startProcess, stopProcess } from './child'

export interface BrokerProcess {
  url: string
  pid: number
  /** The process, for faults (`kill('SIGKILL')`) and its exit. */
  child: ChildProcess
  /** Milliseconds from spawning the process until /health/ready answered 200. */
  spawnToReadyMs: number
  stop(): Promise<void>
}

/** The broker package's folder, found from its index (src/index.ts). */
const brokerDir = path.resolve(path.dirname(fileURLToPath(import.meta.resolve('@questlog/broker'))), '..')

/**
 * The Node flags `npm run broker` runs the bundle with, read from the broker's
 * start script (its young generation is sized there for publish throughput).
 */
function brokerNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(brokerDir, 'package.json'), 'utf8')) as {
    scripts: { start: string }
  }
  const m = /\bnode ((?:--[\w-]+(?:=\S+)? )*)dist\/main\.js/.exec(pkg.scripts.start)
  if (!m) throw new Error(`cannot read the node flags from the broker's start script: ${pkg.scripts.start}`)
  return m[1]!.trim().split(' ').filter(Boolean)
}

/** Builds the broker's bundle, dist/main.js: the file `npm run broker` runs. */
export function buildBroker(): void {
  execFileSync(process.execPath, [path.join(brokerDir, 'scripts/build.mjs')], { stdio: 'inherit' })
}

export interface BrokerProcessOptions {
  /** The admin key it creates at start (QUESTLOG_ADMIN_KEY). */
  adminKey: string
  cpuProfDir?: string
  /** More environment (other settings); the port is chosen here unless given. */
  env?: Record<string, string>
  port?: number
  /** Called with each chunk of its output (stdout and stderr). */
  onOutput?: (chunk: string) => void
}

/** Starts the broker in its own process (so its CPU and memory are its own), with its defaults, on `databaseUrl`. */
export async function startBroker(databaseUrl: string, opts: BrokerProcessOptions): Promise<BrokerProcess> {
  const port = opts.port ?? (await freePort())
  const args = brokerNodeFlags()
  if (opts.cpuProfDir) args.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`)
  // as `npm run broker` starts it, after buildBroker()
  args.push(path.join(brokerDir, 'dist/main.js'))
  const t0 = performance.now()
  const child: ChildProcess = startProcess(process.execPath, args, {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      QUESTLOG_ADMIN_KEY: opts.adminKey,
      ...opts.env,
    },
  })
  let output = ''
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-4000)
    opts.onOutput?.(c.toString())
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const url = `http://127.0.0.1:${port}`
  try {
    await waitReady(url, child, 60_000)
    return {
      url,
      pid: child.pid!,
      child,
      spawnToReadyMs: performance.now() - t0,
      stop: () => stopProcess(child),
    }
  } catch (e) {
    await stopProcess(child)
    throw new Error(`${(e as Error).message}\n${output}`)
  }
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the broker exited with code ${child.exitCode}`)
    try {
      const res = await fetch(`${url}/health/ready`)
      await res.arrayBuffer()
      if (res.ok) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`broker at ${url} not ready after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Milliseconds to start and end a Node process that runs nothing, for scale beside the cold start. */
export function nodeStartMs(): number {
  const t0 = performance.now()
  execFileSync(process.execPath, ['-e', ''], { stdio: 'ignore', timeout: 30_000 })
  return performance.now() - t0
}
