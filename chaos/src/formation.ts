import type { ChildProcess } from 'node:child_process'
import { chownSync, mkdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { freePort } from '@questlog/broker'
import {
  killTree,
  postgresTempDir,
  postgresUser,
  runAsPostgres,
  SYSTEM_PG_BIN,
  startProcess,
  stopProcess,
} from '@questlog/testkit'
import postgres from 'postgres'

/** One pg_auto_failover data node: its keeper process (which runs its PostgreSQL) and port. */
export interface FormationNode {
  name: string
  port: number
  keeper: ChildProcess
}

export interface Formation {
  /** The multi-host URL the monitor hands out: every node, target_session_attrs=read-write. */
  url: string
  nodes: FormationNode[]
  /** The node that is primary now (asked of the monitor). */
  primary(): Promise<FormationNode | undefined>
  /** `show state` as the monitor prints it. */
  state(): string
  destroy(): Promise<void>
}

/** pg_autoctl on the PostgreSQL 15 of this machine (Debian's postgresql-15-auto-failover). */
// Debian installs it on the PATH (pg-auto-failover-cli); it finds pg_ctl through PATH, which names SYSTEM_PG_BIN first
const PG_AUTOCTL = 'pg_autoctl'

export function hasPgAutoFailover(): boolean {
  try {
    runAsPostgres(PG_AUTOCTL, ['--version'])
    return true
  } catch {
    return false
  }
}

/**
 * A pg_auto_failover formation on 127.0.0.1: a monitor and two data nodes in
 * synchronous streaming replication (the monitor sets
 * `synchronous_standby_names = ANY 1 (…)` and `synchronous_commit` stays on,
 * so a commit returns once the standby has it too). Health checks are tightened
 * from the defaults (20 s to call a node unhealthy, 30 s of demote timeout) so
 * that a failover takes seconds, not a minute.
 */
export async function startFormation(log: (l: string) => void): Promise<Formation> {
  const dir = postgresTempDir('questlog-paf-')
  const env = {
    ...process.env,
    PATH: `${SYSTEM_PG_BIN}:${process.env.PATH}`,
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_DATA_HOME: path.join(dir, 'share'),
    XDG_RUNTIME_DIR: path.join(dir, 'run'),
  }
  const user = postgresUser()
  const keepers: ChildProcess[] = []
  const run = (args: string[]) => {
    const c = startProcess(PG_AUTOCTL, args, { env, ...user })
    c.stdout?.resume()
    c.stderr?.resume()
    keepers.push(c)
    return c
  }
  const monitorPort = await freePort()
  const monitorData = path.join(dir, 'monitor')
  const common = ['--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl']
  const nodes: FormationNode[] = []
  const destroy = async () => {
    for (const k of keepers)
      if (k.pid !== undefined && k.exitCode === null) await killTree(k.pid).catch(() => {})
    await Promise.all(keepers.map((k) => stopProcess(k, 1000)))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (const sub of ['config', 'share', 'run']) {
      mkdirSync(path.join(dir, sub), { mode: 0o700 })
      // pg_autoctl keeps its configuration and state there, as the PostgreSQL user
      if (user) chownSync(path.join(dir, sub), user.uid, user.gid)
    }
    run(['create', 'monitor', '--pgdata', monitorData, '--pgport', String(monitorPort), ...common, '--run'])
    const monitorUrl = `postgres://autoctl_node@127.0.0.1:${monitorPort}/pg_auto_failover?sslmode=disable`
    await until(
      async () => {
        const sql = postgres(`postgres://postgres@127.0.0.1:${monitorPort}/pg_auto_failover`, {
          max: 1,
          onnotice: () => {},
          connect_timeout: 2,
        })
        try {
          for (const [k, v] of Object.entries(TIGHT_HEALTH_CHECKS))
            await sql.unsafe(`ALTER SYSTEM SET ${k} = '${v}'`)
          await sql`SELECT pg_reload_conf()`
          return true
        } finally {
          await sql.end({ timeout: 1 })
        }
      },
      60_000,
      'the monitor did not start',
    )
    for (const name of ['node_a', 'node_b']) {
      const port = await freePort()
      const keeper = run([
        'create',
        'postgres',
        '--pgdata',
        path.join(dir, name),
        '--pgport',
        String(port),
        '--listen',
        '127.0.0.1',
        '--name',
        name,
        ...common,
        '--monitor',
        monitorUrl,
        '--run',
      ])
      nodes.push({ name, port, keeper })
      // the second node clones the first once it is primary
      await until(
        async () => (await states(monitorPort)).get(name) === (nodes.length === 1 ? 'single' : 'secondary'),
        120_000,
        `${name} did not join`,
      )
    }
    await until(async () => (await states(monitorPort)).get('node_a') === 'primary', 60_000, 'no primary')
    const url = runAsPostgres(
      PG_AUTOCTL,
      ['show', 'uri', '--pgdata', monitorData, '--formation', 'default'],
      env,
    )
      .trim()
      .replace('sslmode=prefer', 'sslmode=disable')
      // the formation's superuser, trusted on 127.0.0.1
      .replace('postgres://', 'postgres://postgres@')
    log(`formation up: ${url}`)
    return {
      url,
      nodes,
      async primary() {
        const s = await states(monitorPort)
        return nodes.find((n) => ['primary', 'wait_primary', 'single'].includes(s.get(n.name) ?? ''))
      },
      state: () => runAsPostgres(PG_AUTOCTL, ['show', 'state', '--pgdata', monitorData], env),
      destroy,
    }
  } catch (e) {
    await destroy()
    throw e
  }
}

const TIGHT_HEALTH_CHECKS: Record<string, string> = {
  'pgautofailover.health_check_period': '1000',
  'pgautofailover.health_check_timeout': '1000',
  'pgautofailover.health_check_max_retries': '1',
  'pgautofailover.health_check_retry_delay': '500',
  'pgautofailover.node_considered_unhealthy_timeout': '3000',
  'pgautofailover.primary_demote_timeout': '5000',
}

/** Each node's state, by node name, from the monitor's own table ("a->b" while it moves from a to b). */
async function states(monitorPort: number): Promise<Map<string, string>> {
  const sql = postgres(`postgres://postgres@127.0.0.1:${monitorPort}/pg_auto_failover`, {
    max: 1,
    onnotice: () => {},
    connect_timeout: 2,
  })
  try {
    const rows = await sql<{ nodename: string; reportedstate: string; goalstate: string }[]>`
      SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node`
    return new Map(
      rows.map((r) => [
        r.nodename,
        r.reportedstate === r.goalstate ? r.reportedstate : `${r.reportedstate}->${r.goalstate}`,
      ]),
    )
  } catch {
    return new Map()
  } finally {
    await sql.end({ timeout: 1 })
  }
}

async function until(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if (await probe()) return
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 500))
  }
}
