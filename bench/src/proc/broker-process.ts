import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startProcess, stopProcess, waitForLine } from './child'

export interface BrokerProcess {
  url: string
  pid: number
  /** Milliseconds from spawning the process until /health/ready answered 200. */
  spawnToReadyMs: number
  /** Milliseconds `createBroker()` itself took, as the child measured it. */
  createMs: number
  stop(): Promise<void>
}

const entry = fileURLToPath(new URL('./broker-child.ts', import.meta.url))

/** Starts the broker in its own process (so its CPU and memory are its own) on `databaseUrl`. */
export async function startBroker(
  databaseUrl: string,
  opts: { cpuProfDir?: string } = {},
): Promise<BrokerProcess> {
  const args = ['--import', 'tsx']
  if (opts.cpuProfDir) args.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`)
  args.push(entry)
  const t0 = performance.now()
  const child: ChildProcess = startProcess(process.execPath, args, {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0' },
  })
  child.stderr?.resume()
  try {
    const line = await waitForLine(child, /^READY /, 60_000)
    const [, url, createMs] = line.trim().split(' ')
    if (!url) throw new Error(`unexpected broker output: ${line}`)
    await waitReady(url, 30_000)
    const spawnToReadyMs = performance.now() - t0
    child.stdout?.resume()
    return {
      url,
      pid: child.pid!,
      spawnToReadyMs,
      createMs: Number(createMs),
      stop: () => stopProcess(child),
    }
  } catch (e) {
    await stopProcess(child)
    throw e
  }
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
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
