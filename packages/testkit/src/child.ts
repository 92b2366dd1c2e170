import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** Every process this run started, so a failure anywhere still stops them all by PID. */
const started = new Set<ChildProcess>()

export function startProcess(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number } = {},
): ChildProcess {
  const child = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  started.add(child)
  child.once('exit', () => started.delete(child))
  return child
}

/** Sends SIGTERM to the PID, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((c) => stopProcess(c, 5000)))
}

/** Resolves with the first stdout or stderr line matching `pattern`, or rejects on exit or timeout. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = ''
    let errText = ''
    const done = (fn: () => void) => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onErr)
      child.off('exit', onExit)
      fn()
    }
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString()
      const line = buffered.split('\n').find((l) => pattern.test(l))
      if (line !== undefined) done(() => resolve(line))
    }
    const onErr = (chunk: Buffer) => {
      errText = (errText + chunk.toString()).slice(-2000)
      const line = errText.split('\n').find((l) => pattern.test(l))
      if (line !== undefined) done(() => resolve(line))
    }
    const onExit = (code: number | null) =>
      done(() =>
        reject(new Error(`process exited (${code}) before ready: ${errText || buffered.slice(-2000)}`)),
      )
    const timer = setTimeout(
      () => done(() => reject(new Error(`not ready after ${timeoutMs} ms: ${errText}`))),
      timeoutMs,
    )
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onErr)
    child.once('exit', onExit)
  })
}

const TICKS = 100 // USER_HZ on Linux
const PAGE = 4096

/** CPU seconds (user + system) and resident bytes of a process, from /proc. */
export function processUsage(pid: number): { cpuSeconds: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // after "pid (comm) ": state is field 0, utime 11, stime 12, rss 21
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS
  return { cpuSeconds, rssBytes: Number(fields[21]) * PAGE }
}
