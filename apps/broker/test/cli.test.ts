import { execFile } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, startBroker } from './helpers'

const run = promisify(execFile)
// the CLI package's source, run as its built bin runs (the pack-install test runs the built one)
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../packages/cli/src/main.ts')
const ADMIN = `ql_cliadmin0001_${'C'.repeat(43)}`
let broker: Broker

/** Runs `questlog <args>` as a user would, against the test broker. */
async function questlog(
  args: string[],
  input?: string,
): Promise<{ stdout: string; stderr: string; code: number }> {
  const env = { ...process.env, QUESTLOG_URL: broker.url, QUESTLOG_KEY: ADMIN }
  const child = run(process.execPath, ['--import', 'tsx', BIN, ...args], { env, timeout: 60_000 })
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

  it('dump then restore into a new topic gives identical events, offsets, headers and times', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'questlog-cli-'))
    const file = path.join(dir, 'match.ndjson')
    const dumped = await questlog(['--json', 'dump', 'match.log', '-o', file])
    expect(JSON.parse(dumped.stdout)).toMatchObject({ events: 1201 })
    const restored = await questlog(['--json', 'restore', 'match.copy', '-i', file])
    expect(JSON.parse(restored.stdout)).toEqual({ topic: 'match.copy', events: 1201, skipped: 0 })
    // the same dump again adds nothing: every event id is already in the topic
    const again = await questlog(['--json', 'restore', 'match.copy', '-i', file])
    expect(JSON.parse(again.stdout)).toEqual({ topic: 'match.copy', events: 0, skipped: 1201 })
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
      return out
    }
    const original = await read('match.log')
    expect(original).toHaveLength(1201)
    const copy = await read('match.copy')
    const fields = (events: any[]) => events.map(({ topic: _t, time: _c, eventTime: _e, ...rest }) => rest)
    expect(fields(copy)).toEqual(fields(original))
    // each restored event keeps when it happened: its event time is the original's time, not the restore's
    expect(copy.map((e) => e.eventTime)).toEqual(original.map((e) => e.eventTime ?? e.time))
    expect(copy.some((e, i) => e.time !== original[i].time)).toBe(true)
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
    const denied = await run(process.execPath, ['--import', 'tsx', BIN, 'topics', 'list'], {
      env: { ...process.env, QUESTLOG_URL: broker.url, QUESTLOG_KEY: '' },
    }).catch((e) => e)
    expect(denied.stderr).toMatch(/unauthorized/)
  })

  it('never prints the key, and tells usage errors (2) from failures (1), as one line', async () => {
    for (const args of [
      ['--help'],
      ['topics', '--help'],
      ['nonsense'],
      ['topics', 'create'],
      ['keys', 'create', 'x'],
      ['--json', 'replay', 't'],
    ]) {
      const r = await questlog(args)
      expect(r.stdout + r.stderr).not.toContain(ADMIN)
      expect(r.stdout + r.stderr).not.toContain(ADMIN.slice(16))
      if (args.includes('--help')) {
        expect(r.code).toBe(0)
        if (args.length === 1) expect(r.stdout).toMatch(/default: QUESTLOG_KEY/)
      } else {
        expect(r.code, args.join(' ')).toBe(2)
        expect(r.stderr.trim().split('\n')).toHaveLength(1)
      }
    }
    const usage = await questlog(['--json', 'replay', 'match.log'])
    expect(JSON.parse(usage.stderr)).toMatchObject({ error: { code: 'usage' } })
    const failed = await questlog(['--json', 'topics', 'describe', 'nope'])
    expect(failed.code).toBe(1)
    expect(JSON.parse(failed.stderr)).toMatchObject({ error: { code: 'topic_not_found' } })
    const unreachable = await run(process.execPath, ['--import', 'tsx', BIN, 'topics', 'list'], {
      env: { ...process.env, QUESTLOG_URL: 'http://127.0.0.1:9', QUESTLOG_KEY: ADMIN },
    }).catch((e) => e)
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toMatch(/cannot reach the broker/)
    expect(unreachable.stderr).not.toContain(ADMIN)
  }, 240_000)

  it('administers subscriptions, dead letters, schemas, scheduled events and brokers', async () => {
    const created = await api(
      broker.url,
      'POST',
      '/v1/topics',
      { name: 'ops.log' },
      { authorization: `Bearer ${ADMIN}` },
    )
    expect(created.status).toBe(201)
    await api(
      broker.url,
      'POST',
      '/v1/subscriptions',
      { name: 'ops', topic: 'ops.log', mode: 'queue' },
      {
        authorization: `Bearer ${ADMIN}`,
      },
    )
    const listed = JSON.parse((await questlog(['--json', 'subscriptions', 'list'])).stdout)
    expect(listed.map((s: { name: string }) => s.name)).toContain('ops')
    expect(JSON.parse((await questlog(['--json', 'subscriptions', 'describe', 'ops'])).stdout)).toMatchObject(
      {
        name: 'ops',
        mode: 'queue',
      },
    )
    expect(JSON.parse((await questlog(['--json', 'subs', 'pause', 'ops'])).stdout)).toMatchObject({
      paused: true,
    })
    expect((await questlog(['subs', 'resume', 'ops'])).stdout).toMatch(/resumed subscription ops/)
    expect((await questlog(['subs', 'reset', 'ops', '--to', 'latest'])).code).toBe(0)
    expect((await questlog(['subs', 'reset', 'ops'])).code).toBe(2) // --to is required
    expect(JSON.parse((await questlog(['--json', 'dlq', 'list', 'ops'])).stdout)).toEqual([])
    expect((await questlog(['dlq', 'redrive', 'ops'])).code).toBe(2)
    expect(JSON.parse((await questlog(['--json', 'dlq', 'redrive', 'ops', '--all'])).stdout)).toEqual({
      redriven: 0,
    })
    expect((await questlog(['subs', 'delete', 'ops'])).stdout).toMatch(/deleted subscription ops/)
    expect((await questlog(['subs', 'describe', 'ops'])).code).toBe(1)

    const dir = await mkdtemp(path.join(os.tmpdir(), 'questlog-cli-'))
    const schemaFile = path.join(dir, 'score.json')
    await writeFile(schemaFile, JSON.stringify({ type: 'object' }))
    expect(
      JSON.parse((await questlog(['--json', 'schemas', 'register', 'ops.log', schemaFile])).stdout),
    ).toMatchObject({
      version: 1,
    })
    expect(JSON.parse((await questlog(['--json', 'schemas', 'list', 'ops.log'])).stdout)).toHaveLength(1)
    const scheduled = JSON.parse(
      (await questlog(['--json', 'scheduled', 'create', 'ops.log', '{"later":true}', '--in', '3600000']))
        .stdout,
    )
    expect(
      JSON.parse((await questlog(['--json', 'scheduled', 'list'])).stdout).map((e: { id: string }) => e.id),
    ).toContain(scheduled.id)
    expect((await questlog(['scheduled', 'cancel', scheduled.id])).code).toBe(0)
    const brokers = JSON.parse((await questlog(['--json', 'brokers'])).stdout)
    expect(brokers.length).toBeGreaterThan(0)
  }, 240_000)

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
