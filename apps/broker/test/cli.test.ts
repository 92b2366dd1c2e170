import { execFile } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, startBroker } from './helpers'

const run = promisify(execFile)
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/questlog.mjs')
const ADMIN = `ql_cliadmin0001_${'C'.repeat(43)}`
let broker: Broker

/** Runs `questlog <args>` as a user would, against the test broker. */
async function questlog(
  args: string[],
  input?: string,
): Promise<{ stdout: string; stderr: string; code: number }> {
  const env = { ...process.env, QUESTLOG_URL: broker.url, QUESTLOG_KEY: ADMIN }
  const child = run(process.execPath, [BIN, ...args], { env, timeout: 60_000 })
  if (input !== undefined) {
    child.child.stdin?.end(input)
  } else child.child.stdin?.end()
  try {
    const { stdout, stderr } = await child
    if (process.env.DEBUG_CLI)
      console.log('DEBUG', args.join(' '), JSON.stringify({ stdout: stdout.slice(0, 300), stderr }))
    return { stdout, stderr, code: 0 }
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number }
    if (process.env.DEBUG_CLI) console.log('DEBUG failed', args.join(' '), JSON.stringify(err.stderr))
    return { stdout: err.stdout, stderr: err.stderr, code: err.code }
  }
}

beforeAll(async () => {
  broker = await startBroker({ auth: 'on', adminKey: ADMIN })
})
afterAll(() => broker.stop())

describe('questlog CLI', () => {
  it('manages topics, publishes, and prints for people or for scripts', async () => {
    expect((await questlog(['topics', 'create', 'match.log', '--partitions', '3'])).stdout).toMatch(
      /created topic match\.log with 3/,
    )
    const listed = await questlog(['--json', 'topics', 'list'])
    const list = JSON.parse(listed.stdout)
    expect(list.map((t: any) => t.name)).toEqual(['match.log'])
    const one = JSON.parse(
      (
        await questlog([
          '--json',
          'publish',
          'match.log',
          '{"score":3}',
          '-t',
          'game.score',
          '-k',
          'p1',
          '-H',
          'region=eu',
        ])
      ).stdout,
    )
    expect(one).toMatchObject({ duplicate: false })
    const ndjson = Array.from({ length: 1200 }, (_, i) =>
      JSON.stringify({ key: `p${i % 7}`, type: 'game.tick', data: { i } }),
    ).join('\n')
    const many = await questlog(['--json', 'publish', 'match.log', '-'], ndjson)
    expect(JSON.parse(many.stdout)).toEqual({ published: 1200 })
    const describe = await questlog(['topics', 'describe', 'match.log'])
    expect(describe.stdout).toMatch(/1201 event\(s\)/)
    const tail = await questlog([
      '--json',
      'subscribe',
      'match.log',
      '--from',
      'earliest',
      '--type',
      'game.score',
      '-n',
      '1',
    ])
    expect(JSON.parse(tail.stdout.trim())).toMatchObject({
      type: 'game.score',
      key: 'p1',
      data: { score: 3 },
      headers: { region: 'eu' },
    })
  })

  it('dump then restore into a new topic gives identical events, offsets and headers', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'questlog-cli-'))
    const file = path.join(dir, 'match.ndjson')
    const dumped = await questlog(['--json', 'dump', 'match.log', '-o', file])
    expect(JSON.parse(dumped.stdout)).toMatchObject({ events: 1201 })
    const restored = await questlog(['--json', 'restore', 'match.copy', '-i', file])
    expect(JSON.parse(restored.stdout)).toEqual({ topic: 'match.copy', events: 1201 })
    const read = async (topic: string) => {
      const out: any[] = []
      for (let p = 0; p < 3; p++) {
        const page = await api(
          broker.url,
          'GET',
          `/v1/topics/${topic}/events?partition=${p}&limit=1000`,
          undefined,
          { authorization: `Bearer ${ADMIN}` },
        )
        let events = page.body.events
        let next = page.body.next
        while (events.length > 0) {
          out.push(...events)
          const more = await api(
            broker.url,
            'GET',
            `/v1/topics/${topic}/events?partition=${p}&from=${next}&limit=1000`,
            undefined,
            { authorization: `Bearer ${ADMIN}` },
          )
          events = more.body.events
          next = more.body.next
        }
      }
      return out.map(({ topic: _t, time: _time, ...rest }) => rest)
    }
    const original = await read('match.log')
    expect(original).toHaveLength(1201)
    expect(await read('match.copy')).toEqual(original)
  })

  it('creates, lists and revokes keys, and explains errors', async () => {
    const created = JSON.parse(
      (await questlog(['--json', 'keys', 'create', 'ci-bot', '--allow', 'publish:match.>'])).stdout,
    )
    expect(created.key).toMatch(/^ql_/)
    const listed = JSON.parse((await questlog(['--json', 'keys', 'list'])).stdout)
    expect(listed.map((k: any) => k.name)).toContain('ci-bot')
    expect(JSON.stringify(listed)).not.toContain(created.key)
    expect((await questlog(['keys', 'revoke', created.id])).stdout).toMatch(/revoked/)
    const missing = await questlog(['topics', 'describe', 'nope'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/topic_not_found: topic 'nope' does not exist/)
    const denied = await run(process.execPath, [BIN, 'topics', 'list'], {
      env: { ...process.env, QUESTLOG_URL: broker.url, QUESTLOG_KEY: '' },
    }).catch((e) => e)
    expect(denied.stderr).toMatch(/unauthorized/)
  })

  it('replays with progress and runs a quick bench', async () => {
    const replay = JSON.parse(
      (
        await questlog([
          '--json',
          'replay',
          'match.log',
          '--from-offset',
          '0',
          '--type',
          'game.score',
          '--to-topic',
          'match.copy',
        ])
      ).stdout,
    )
    expect(replay).toMatchObject({ status: 'done', delivered: 1, percent: 100 })
    const bench = JSON.parse(
      (await questlog(['--json', 'bench', '--events', '2000', '--batch', '500', '--producers', '2'])).stdout,
    )
    expect(bench.events).toBe(2000)
    expect(bench.eventsPerSecond).toBeGreaterThan(0)
  })
})
