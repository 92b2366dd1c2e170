// `npm start`: the broker and the console side by side; Ctrl-C stops both.
import { spawn } from 'node:child_process'

const children = [
  spawn('npm', ['run', 'broker'], { stdio: 'inherit' }),
  spawn('npm', ['run', 'start', '--workspace', '@questlog/console'], { stdio: 'inherit' }),
]
let exiting = false
const stop = (code) => {
  if (exiting) return
  exiting = true
  for (const c of children) c.kill('SIGTERM')
  setTimeout(() => process.exit(code), 500)
}
for (const c of children) c.on('exit', (code) => stop(code ?? 1))
process.on('SIGINT', () => stop(0))
process.on('SIGTERM', () => stop(0))
