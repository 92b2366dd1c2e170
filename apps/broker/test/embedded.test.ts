import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../src/storage/embedded'
import { api, createTopic, readAll, sleep } from './helpers'

const BROKER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
let dir: string
const children: ChildProcess[] = []

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'questlog-embedded-'))
  await chmod(dir, 0o755)
})
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  const pidFile = path.join(dir, 'pg', 'postmaster.pid')
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
    try {
      process.kill(pid, 'SIGINT')
    } catch {}
    await sleep(1000)
  }
  await rm(dir, { recursive: true, force: true })
})

/** `npm run broker` as a user runs it: no DATABASE_URL, so the embedded PostgreSQL. */
function spawnEmbedded(port: number): ChildProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    QUESTLOG_DATA_DIR: path.join(dir, 'pg'),
    LOG_LEVEL: 'warn',
    QUESTLOG_AUTH: 'on',
  }
  delete env.DATABASE_URL
  delete env.QUESTLOG_ADMIN_KEY
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: BROKER_DIR,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    printed += chunk
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    errors += chunk
  })
  children.push(child)
  return child
}

let printed = ''
let errors = ''
/** The admin key the first start printed, as a user would copy it. */
const auth = () => {
  const key = /Questlog admin key[^\n]*\n\s+(ql_\S+)/.exec(printed)?.[1]
  if (!key) throw new Error(`no admin key printed; stdout was: ${printed}`)
  return { authorization: `Bearer ${key}` }
}

async function waitReady(base: string): Promise<void> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${base}/health/ready`)).ok) return
    } catch {}
    await sleep(100)
  }
  throw new Error('embedded broker did not become ready')
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

describe('embedded PostgreSQL', () => {
  it('keeps data across a clean restart, and across kill -9 of the broker and of PostgreSQL itself', async () => {
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`

    const first = spawnEmbedded(port)
    await waitReady(base)
    // first start: a bootstrap admin key is printed, and saved beside the data
    const saved = readFileSync(path.join(dir, 'admin-key'), 'utf8').trim()
    expect(auth().authorization).toBe(`Bearer ${saved}`)
    expect((await api(base, 'GET', '/v1/topics')).status).toBe(401)
    await createTopic(base, 'lobby.chat', {}, auth())
    const a = await api(base, 'POST', '/v1/topics/lobby.chat/events', { data: 'before restart' }, auth())
    expect(a.status).toBe(201)
    first.kill('SIGTERM')
    await exited(first)

    const second = spawnEmbedded(port)
    await waitReady(base)
    const printedOnce = printed
    expect((await readAll(base, 'lobby.chat', 0, 0, auth())).map((e) => e.data)).toEqual(['before restart'])
    // keys exist now: no new key is printed, the first one still works
    expect(printed.match(/Questlog admin key/g)).toHaveLength(1)
    expect(printed).toBe(printedOnce)
    const b = await api(
      base,
      'POST',
      '/v1/topics/lobby.chat/events',
      { data: 'acked before the crash' },
      auth(),
    )
    expect(b.status).toBe(201)

    // crash everything: the broker, then the postmaster it left behind
    second.kill('SIGKILL')
    await exited(second)
    const pid = Number(readFileSync(path.join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0])
    process.kill(pid, 'SIGKILL')
    await sleep(500)

    const third = spawnEmbedded(port)
    await waitReady(base)
    expect((await readAll(base, 'lobby.chat', 0, 0, auth())).map((e) => e.data)).toEqual([
      'before restart',
      'acked before the crash',
    ])
    third.kill('SIGTERM')
    await exited(third)
  })

  it('takes over from a postmaster orphaned by a killed broker', async () => {
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const first = spawnEmbedded(port)
    await waitReady(base)
    await api(base, 'POST', '/v1/topics/lobby.chat/events', { data: 'orphan era' }, auth())
    first.kill('SIGKILL')
    await exited(first)
    // the postmaster is still running and holds the data folder
    const second = spawnEmbedded(port)
    await waitReady(base)
    const data = (await readAll(base, 'lobby.chat', 0, 0, auth())).map((e) => e.data)
    expect(data.at(-1)).toBe('orphan era')
    second.kill('SIGTERM')
    await exited(second)
  })

  it('says the port is taken and leaves no PostgreSQL running when it cannot listen', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const child = spawnEmbedded(port)
      await exited(child)
      expect(child.exitCode).toBe(1)
      expect(errors).toContain(`port ${port} on 127.0.0.1 is already in use: set PORT to a free one`)
      // the embedded PostgreSQL it had started was stopped again: its pid file is gone
      expect(existsSync(path.join(dir, 'pg', 'postmaster.pid'))).toBe(false)
    } finally {
      taken.close()
    }
  })
})
