import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { VERSION } from '@questlog/broker'
import { serverVersion } from './proc/servers'

export interface MachineInfo {
  nproc: number
  memoryGb: number
  cpu: string
  os: string
  node: string
}

export function machineInfo(): MachineInfo {
  let osName = `${os.type()} ${os.release()}`
  try {
    const pretty = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]+)"?/m)
    if (pretty) osName = `${pretty[1]}, kernel ${os.release()}`
  } catch {
    // not Linux: keep the kernel name
  }
  return {
    nproc: os.availableParallelism(),
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    os: osName,
    node: process.version,
  }
}

const require = createRequire(import.meta.url)

/** A dependency's version, from the package.json above its resolved entry (some packages do not export it). */
function packageVersion(name: string): string {
  try {
    let dir = path.dirname(require.resolve(name))
    while (dir !== path.dirname(dir)) {
      const file = path.join(dir, 'package.json')
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
        if (pkg.name === name && pkg.version) return pkg.version
      }
      dir = path.dirname(dir)
    }
  } catch {
    // not installed
  }
  return 'unknown'
}

/** The checked-out commit, and whether the broker and SDK sources differ from it. */
function sourceRevision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', timeout: 5000 }).trim()
    const head = git('rev-parse', '--short', 'HEAD')
    const dirty =
      git('status', '--porcelain', '--untracked-files=no', '--', '../apps/broker', '../packages') !== ''
    return dirty ? `${head} with uncommitted changes in apps/ or packages/` : head
  } catch {
    return 'unknown (not a git checkout)'
  }
}

/** Every component's version, for the report. */
export function versions(postgresServer: string): Record<string, string> {
  return {
    'Questlog broker': `${VERSION} (commit ${sourceRevision()})`,
    PostgreSQL: postgresServer,
    'postgres (npm client)': packageVersion('postgres'),
    'nats-server': serverVersion('nats-server').replace(/^nats-server:\s*/, ''),
    'nats (npm client)': packageVersion('nats'),
    'redis-server': serverVersion('redis-server').split(' sha=')[0] ?? 'unknown',
    'ioredis (npm client)': packageVersion('ioredis'),
  }
}
