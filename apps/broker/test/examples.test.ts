import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { freshDatabase, startBroker } from './helpers'

const run = promisify(execFile)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const ADMIN = `ql_example00001_${'E'.repeat(43)}`
let broker: Broker

beforeAll(async () => {
  broker = await startBroker({ auth: 'on', adminKey: ADMIN })
})
afterAll(() => broker.stop())

describe('README examples', () => {
  it('the Node quickstart runs as printed against a broker with auth on', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/node-quickstart.ts'], {
      cwd: ROOT,
      env: { ...process.env, QUESTLOG_URL: broker.url, QUESTLOG_KEY: ADMIN },
      timeout: 60_000,
    })
    expect(stdout).toMatch(/stored at partition \d, offset 0/)
    expect(stdout).toMatch(/player-7 took down player-3/)
  })

  it('the leaderboard table example runs as printed', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/leaderboard-table.ts'], {
      cwd: ROOT,
      env: { ...process.env, QUESTLOG_URL: broker.url, QUESTLOG_KEY: ADMIN },
      timeout: 60_000,
    })
    expect(stdout).toBe('ada 150, bo 90\nbo now 200\n')
  })

  it('the outbox example runs as printed: the committed reward is published, the rolled-back one never', async () => {
    const game = await freshDatabase()
    const relaying = await startBroker({ auth: 'on', adminKey: ADMIN, outboxDatabaseUrl: game })
    try {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/outbox-reward.ts'], {
        cwd: ROOT,
        env: { ...process.env, QUESTLOG_URL: relaying.url, QUESTLOG_KEY: ADMIN, GAME_DATABASE_URL: game },
        timeout: 60_000,
      })
      expect(stdout).toBe('ada was awarded 100 gold\n')
      const res = await fetch(`${relaying.url}/v1/topics/game.rewards/events?limit=10`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      })
      const events = ((await res.json()) as { events: Array<{ data: unknown }> }).events
      expect(events.map((e) => e.data)).toEqual([{ player: 'ada', gold: 100 }])
    } finally {
      await relaying.stop()
    }
  })

  it('the in-process bus example is the README’s, and prints what the README shows', async () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('### In-process bus'))
    const code = /```ts\n([\s\S]*?)```/.exec(section)![1]!
    const printed = /prints\n\n```text\n([\s\S]*?)```/.exec(section)![1]!
    const file = readFileSync(path.join(ROOT, 'examples/local-bus.ts'), 'utf8')
    expect(file.split('\n').slice(1).join('\n')).toBe(code)
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/local-bus.ts'], {
      cwd: ROOT,
      timeout: 60_000,
    })
    expect(stdout).toBe(printed)
  })
})
