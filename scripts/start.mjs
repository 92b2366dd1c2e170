// `npm start`: the broker and the console side by side; Ctrl-C stops both.
import { spawn } from 'node:child_process'

// each in its own process group, so a stop reaches the servers and not only the npm processes above them
const run = (args) => spawn('npm', args, { stdio: 'inherit', detached: true })
const children = [run(['run', 'broker']), run(['run', 'start', '--workspace', '@questlog/console'])]
const running = new Set(children)
let exitCode
const stop = (code) => {
  if (exitCode !== undefined) return
  exitCode = code
  for (const c of running) {
    try {
      process.kill(-c.pid, 'SIGTERM')
    } catch {
      // already gone
    }
  }
  // the broker stops its embedded PostgreSQL cleanly; give it the time it needs
  setTimeout(() => process.exit(exitCode), 20_000).unref()
}
for (const c of children) {
  c.on('exit', (code) => {
    running.delete(c)
    stop(code ?? 1)
    if (running.size === 0) process.exit(exitCode)
  })
}
process.on('SIGINT', () => stop(0))
process.on('SIGTERM', () => stop(0))
