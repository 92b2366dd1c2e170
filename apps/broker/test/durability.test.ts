import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../src/storage/embedded'
import { api, createTopic, freshDatabase, readAll, sleep } from './helpers'

const BROKER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const children: ChildProcess[] = []

function spawnBroker(databaseUrl: string, port: number): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: BROKER_DIR,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      QUESTLOG_AUTH: 'off',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  children.push(child)
  return child
}

async function waitReady(base: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${base}/health/ready`)).ok) return
    } catch {}
    await sleep(100)
  }
  throw new Error(`broker at ${base} not ready after ${timeoutMs} ms`)
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
})

describe('durability', () => {
  it('every acked event survives kill -9 of the broker, with the same id and payload', async () => {
    const databaseUrl = await freshDatabase()
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const first = spawnBroker(databaseUrl, port)
    await waitReady(base)
    await createTopic(base, 'match.kills', { partitions: 4 })

    const acked: Array<{ id: string; partition: number; offset: string; data: unknown }> = []
    let stop = false
    let sent = 0
    const producers = Array.from({ length: 6 }, async (_, p) => {
      while (!stop) {
        const events = Array.from({ length: 20 }, (_, i) => ({
          key: `player-${p}-${i % 3}`,
          data: { p, n: sent++ },
        }))
        try {
          const res = await fetch(`${base}/v1/topics/match.kills/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ events }),
          })
          if (res.status !== 201) continue
          const body = (await res.json()) as {
            receipts: Array<{ id: string; partition: number; offset: string }>
          }
          for (const [i, r] of body.receipts.entries()) acked.push({ ...r, data: events[i]!.data })
        } catch {
          return // the broker died under us: whatever was not acked may or may not be stored
        }
      }
    })
    // let it run mid-stream, then pull the plug
    while (acked.length < 2000) await sleep(20)
    first.kill('SIGKILL')
    stop = true
    await Promise.all(producers)
    await exited(first)
    expect(acked.length).toBeGreaterThanOrEqual(2000)

    const second = spawnBroker(databaseUrl, port)
    await waitReady(base)
    const stored = new Map<string, any>()
    for (let p = 0; p < 4; p++)
      for (const e of await readAll(base, 'match.kills', p)) stored.set(`${p}:${e.offset}`, e)
    for (const a of acked) {
      const e = stored.get(`${a.partition}:${a.offset}`)
      expect(e, `acked ${a.partition}:${a.offset}`).toBeDefined()
      expect(e.id).toBe(a.id)
      expect(e.data).toEqual(a.data)
    }
    // offsets stay gapless after the crash: each partition reads 0..n-1
    for (let p = 0; p < 4; p++) {
      const offsets = (await readAll(base, 'match.kills', p)).map((e) => Number(e.offset))
      expect(offsets).toEqual(offsets.map((_, i) => i))
    }
    // and the restarted broker keeps accepting
    const after = await api(base, 'POST', '/v1/topics/match.kills/events', { data: { after: true } })
    expect(after.status).toBe(201)
    second.kill('SIGTERM')
    await exited(second)
  })
})
