import type { ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import path from 'node:path'
import { freePort } from '@questlog/broker'
import { startProcess, stopProcess, waitForLine } from './child'
import { PG_BIN, postgresTempDir, postgresUser, runAsPostgres } from './postgres-user'
import { killTree } from './proc-tree'

export interface PgServer {
  port: number
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication, loopback only). */
  url: string
  /** The postmaster's PID while it runs. */
  readonly pid: number | undefined
  /** Starts it again on the same data and port; resolves once it accepts connections. */
  start(): Promise<void>
  /** Stops it: `fast` (SIGINT), `immediate` (SIGQUIT: no checkpoint, crash recovery at the next start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>
  /** kill -9 of the postmaster and its backends. */
  kill9(): Promise<void>
  /** Stops it and removes its data. */
  destroy(): Promise<void>
}

const servers = new Set<PgServer>()

/**
 * A private PostgreSQL 15 server in a temporary folder on a free 127.0.0.1
 * port, run as a child process of this one (as the `postgres` OS user when
 * this is root), so every fault is aimed at its PID.
 */
export async function startPgServer(settings: Record<string, string> = {}): Promise<PgServer> {
  const dir = postgresTempDir('questlog-pg-')
  const data = path.join(dir, 'data')
  runAsPostgres(path.join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8'])
  const port = await freePort()
  const args = ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1']
  args.push('-c', `unix_socket_directories=${dir}`, '-c', 'fsync=on')
  for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`)
  let child: ChildProcess | undefined

  const server: PgServer = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    get pid() {
      return child?.exitCode === null && child.signalCode === null ? child.pid : undefined
    },
    async start() {
      if (server.pid !== undefined) return
      const c = startProcess(path.join(PG_BIN, 'postgres'), args, { ...postgresUser() })
      child = c
      await waitForLine(c, /database system is ready to accept connections/, 120_000)
      c.stdout?.resume()
      c.stderr?.resume()
    },
    async stop(mode = 'fast') {
      const c = child
      if (!c || server.pid === undefined) return
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()))
      c.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT')
      await exited
    },
    async kill9() {
      if (child?.pid === undefined || server.pid === undefined) return
      const c = child
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()))
      await killTree(c.pid!)
      await exited
    },
    async destroy() {
      servers.delete(server)
      if (child) await stopProcess(child, 10_000)
      rmSync(dir, { recursive: true, force: true })
    },
  }
  servers.add(server)
  try {
    await server.start()
  } catch (e) {
    await server.destroy()
    throw e
  }
  return server
}

/** Stops and removes every server started here (for a `finally`). */
export async function destroyPgServers(): Promise<void> {
  await Promise.all([...servers].map((s) => s.destroy()))
}
