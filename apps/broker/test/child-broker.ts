import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../src/storage/embedded'
import { freshDatabase, sleep } from './helpers'

const BROKER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export interface ChildBroker {
  url: string
  pid: number
  /** Resident memory of the broker's process now, from /proc (Linux). */
  rss(): number
  stop(): void
}

/** A broker in a process of its own, so its memory is its own; `env` as `npm run broker` reads it. */
export async function startChildBroker(env: Record<string, string>): Promise<ChildBroker> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: BROKER_DIR,
    stdio: 'ignore',
    env: {
      ...process.env,
      DATABASE_URL: await freshDatabase(),
      PORT: String(port),
      LOG_LEVEL: 'error',
      QUESTLOG_AUTH: 'off',
      ...env,
    },
  })
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGKILL')
  }
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the broker exited with code ${child.exitCode}`)
    const ready = await fetch(`${url}/health/ready`).then(
      (r) => r.ok,
      () => false,
    )
    if (ready) break
    if (Date.now() > deadline) {
      stop()
      throw new Error('the broker did not get ready within 60 s')
    }
    await sleep(100)
  }
  return {
    url,
    pid: child.pid!,
    rss: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
      return Number(m![1]) * 1024
    },
    stop,
  }
}
