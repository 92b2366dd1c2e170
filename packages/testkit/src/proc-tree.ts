import { readdirSync, readFileSync } from 'node:fs'

/** The PIDs of a process and all its descendants, parents first, from /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue // gone meanwhile
    }
    // after "pid (comm) ": state, then the parent's pid
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    const list = children.get(ppid)
    if (list) list.push(Number(name))
    else children.set(ppid, [Number(name)])
  }
  const out: number[] = []
  const walk = (pid: number) => {
    out.push(pid)
    for (const c of children.get(pid) ?? []) walk(c)
  }
  walk(root)
  return out
}

/** Whether a PID is still running (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** SIGKILL to a process and every descendant, by PID; resolves once all are gone. */
export async function killTree(root: number, timeoutMs = 10_000): Promise<void> {
  const pids = processTree(root)
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + timeoutMs
  while (pids.some(alive)) {
    if (Date.now() > deadline) throw new Error(`processes ${pids.filter(alive).join(', ')} did not die`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
