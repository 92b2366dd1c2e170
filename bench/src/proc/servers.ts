import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { freePort } from '@questlog/broker'
import { startProcess, stopProcess, waitForLine } from '@questlog/testkit'

export interface PrivateServer {
  port: number
  pid: number
  /** The settings that matter for durability, as the report prints them. */
  settings: string
  stop(): Promise<void>
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  chmodSync(dir, 0o755)
  return dir
}

/** A private redis-server on a free 127.0.0.1 port with AOF on and the given fsync policy. */
export async function startRedis(appendfsync: 'always' | 'everysec'): Promise<PrivateServer> {
  const dir = tempDir('questlog-bench-redis-')
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '']
  args.push('--appendonly', 'yes', '--appendfsync', appendfsync, '--daemonize', 'no')
  const child = startProcess('redis-server', args)
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  try {
    await waitForLine(child, /Ready to accept connections/, 15_000)
  } catch (e) {
    await stopProcess(child)
    throw e
  }
  child.stdout?.resume()
  child.stderr?.resume()
  return {
    port,
    pid: child.pid!,
    settings: `appendonly yes, appendfsync ${appendfsync}`,
    async stop() {
      await stopProcess(child)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Whether this nats-server accepts `sync_interval: always` (added in 2.10): it rejects unknown fields. */
export function natsSupportsSyncAlways(): boolean {
  const dir = tempDir('questlog-bench-natscheck-')
  try {
    const conf = path.join(dir, 'check.conf')
    writeFileSync(conf, `jetstream { store_dir: "${dir}", sync_interval: always }\n`)
    execFileSync('nats-server', ['-c', conf, '-t'], { stdio: 'pipe', timeout: 10_000 })
    return true
  } catch {
    return false
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A private nats-server with JetStream file storage on a free 127.0.0.1 port. */
export async function startNats(syncAlways: boolean): Promise<PrivateServer> {
  const dir = tempDir('questlog-bench-nats-')
  const port = await freePort()
  const conf = path.join(dir, 'nats.conf')
  const sync = syncAlways ? ', sync_interval: always' : ''
  writeFileSync(
    conf,
    `listen: "127.0.0.1:${port}"\njetstream { store_dir: "${path.join(dir, 'js')}"${sync} }\n`,
  )
  const child = startProcess('nats-server', ['-c', conf])
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  try {
    await waitForLine(child, /Server is ready/, 15_000)
  } catch (e) {
    await stopProcess(child)
    throw e
  }
  child.stdout?.resume()
  child.stderr?.resume()
  return {
    port,
    pid: child.pid!,
    settings: syncAlways
      ? 'file storage, sync_interval: always (fsync per write)'
      : 'file storage, default sync (periodic fsync, not per ack)',
    async stop() {
      await stopProcess(child)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** `redis-server --version` / `nats-server --version`, for the report. */
export function serverVersion(cmd: string): string {
  try {
    return execFileSync(cmd, ['--version'], { encoding: 'utf8', timeout: 5000 }).trim()
  } catch {
    return 'not installed'
  }
}
