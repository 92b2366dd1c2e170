// The packages as a user gets them: `npm pack` of each, installed into an empty project with plain
// npm, the README's Node example run with plain `node` against a real broker, a consumer typechecked
// by tsc (module nodenext, strict), the CommonJS build required, and the packed CLI run.
import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { startEmbeddedPostgres } from '@questlog/broker'
import { type BrokerProcess, buildBroker, startBroker } from '@questlog/testkit'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const PACKAGES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const PUBLISHED = ['protocol', 'sdk-core', 'sdk-node', 'sdk-browser', 'cli']
const ADMIN = `ql_packinstall1_${'P'.repeat(43)}`
// npm's own environment from a parent `npm test` would point the install at the workspace
const npmEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && k !== 'NODE_OPTIONS'),
)

let dir: string
let project: string
let broker: BrokerProcess | undefined
let stopDatabase = async () => {}
const packed = new Map<string, { filename: string; files: string[] }>()

async function openDatabase(): Promise<string> {
  const given = process.env.QUESTLOG_TEST_DATABASE_URL
  if (!given) {
    const pgDir = path.join(dir, 'pg-data')
    await mkdir(pgDir)
    await chmod(dir, 0o755) // PostgreSQL runs as its own user when we are root
    const pg = await startEmbeddedPostgres({ dataDir: pgDir })
    stopDatabase = () => pg.stop()
    return pg.url
  }
  const name = `pack_install_${process.pid}_${Date.now()}`
  const sql = postgres(given, { max: 1, onnotice: () => {} })
  await sql.unsafe(`CREATE DATABASE ${name}`)
  await sql.end()
  const url = new URL(given)
  url.pathname = `/${name}`
  return url.toString()
}

/** Runs a command in the consumer project, as its user would, with npm's and Node's defaults. */
function inProject(file: string, args: string[], env: Record<string, string> = {}) {
  return run(file, args, { cwd: project, env: { ...npmEnv, ...env }, timeout: 300_000 })
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'questlog-pack-'))
  project = path.join(dir, 'game-server')
  await mkdir(project)
  for (const name of PUBLISHED) {
    // prepack builds dist/ first
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], {
      cwd: path.join(PACKAGES, name),
      env: npmEnv,
      timeout: 300_000,
    })
    const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{
      filename: string
      files: Array<{ path: string }>
    }>
    packed.set(name, { filename: path.join(dir, info!.filename), files: info!.files.map((f) => f.path) })
  }
  await writeFile(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'game-server', private: true, type: 'module' }),
  )
  await inProject('npm', [
    'install',
    '--no-audit',
    '--no-fund',
    '--prefer-offline',
    ...[...packed.values()].map((p) => p.filename),
    'zod@^4',
    'typescript@5.9',
    '@types/node@20',
  ])
  buildBroker()
  broker = await startBroker(await openDatabase(), { adminKey: ADMIN })
}, 900_000)

afterAll(async () => {
  await broker?.stop()
  await stopDatabase()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('the packed packages, installed into an empty project', () => {
  it('ship built JavaScript, declarations and a README, no TypeScript source', () => {
    for (const [name, { files }] of packed) {
      expect(files, name).toContain('README.md')
      expect(files, name).toContain('package.json')
      expect(
        files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.d.cts')),
        name,
      ).toEqual([])
      // besides the build, only sdk-node's outbox table, for the game's own migrations
      const extra = name === 'sdk-node' ? ['migrations/questlog-outbox.sql'] : []
      expect(
        files.filter((f) => !f.startsWith('dist/') && !['README.md', 'package.json'].includes(f)),
        name,
      ).toEqual(extra)
    }
    for (const name of ['protocol', 'sdk-core', 'sdk-node'])
      expect(packed.get(name)!.files).toEqual(
        expect.arrayContaining(['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts']),
      )
    expect(packed.get('sdk-browser')!.files).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/questlog.js']),
    )
  })

  it("runs the sdk-node README's example with plain node against a real broker", async () => {
    const readme = await readFile(path.join(PACKAGES, 'sdk-node/README.md'), 'utf8')
    const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(example).toBeDefined()
    await writeFile(path.join(project, 'example.js'), example!)
    const { stdout } = await inProject(process.execPath, ['example.js'], {
      QUESTLOG_URL: broker!.url,
      QUESTLOG_KEY: ADMIN,
    })
    expect(stdout).toMatch(/stored at partition \d, offset 0/)
    expect(stdout).toMatch(/player-7 took down player-3/)
  })

  it('loads with require() too, from the CommonJS build', async () => {
    const { stdout } = await inProject(process.execPath, [
      '-e',
      `const node = require('@questlog/sdk-node'); const protocol = require('@questlog/protocol')
       console.log(typeof node.createClient, typeof node.defineTopic, typeof protocol.envelopeSchema)`,
    ])
    expect(stdout.trim()).toBe('function function object')
  })

  it('typechecks a consumer with tsc (module nodenext, strict), ES module and CommonJS', async () => {
    await writeFile(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2023', 'dom'],
          strict: true,
          noEmit: true,
          types: ['node'],
        },
        include: ['*.ts', '*.cts'],
      }),
    )
    await writeFile(
      path.join(project, 'consumer.ts'),
      `import { createClient, defineTopic, gameKillSchema, isQuestlogError, type ReceivedEvent } from '@questlog/sdk-node'
import { createClient as createBrowserClient } from '@questlog/sdk-browser'
import { envelopeSchema, type Envelope } from '@questlog/protocol'
import { z } from 'zod'

const bus = createClient({ brokers: ['http://localhost:4600'], token: 'ql_x' })
const kills = defineTopic('game.kills', z.object({ killer: z.string(), victim: z.string() }))
const receipt = await bus.publish(kills, { killer: 'a', victim: 'b' }, { key: 'a' })
const offset: string = receipt.offset
for await (const ev of bus.subscribe(kills, { from: 'earliest' })) {
  const killer: string = ev.data.killer
  const typed: ReceivedEvent<{ killer: string; victim: string }> = ev
  console.log(killer, typed.partition, offset)
  break
}
// @ts-expect-error: the payload is checked against the topic's schema
await bus.publish(kills, { killer: 1 })
// the game event catalogue's schemas are topic schemas too
const catalogued = defineTopic('game.events', gameKillSchema)
for await (const ev of bus.subscribe(catalogued)) console.log(ev.data.killer)
const page = createBrowserClient({ brokers: ['http://localhost:4600'] })
const e: Envelope = envelopeSchema.parse({})
console.log(page, e, isQuestlogError(new Error()))
`,
    )
    await writeFile(
      path.join(project, 'legacy.cts'),
      `import sdk = require('@questlog/sdk-node')
const bus: sdk.QuestlogClient = sdk.createClient({ brokers: ['http://localhost:4600'] })
export = bus
`,
    )
    const tsc = path.join(project, 'node_modules/typescript/bin/tsc')
    const result = await inProject(process.execPath, [tsc, '-p', '.']).catch((e) => e)
    expect(`${result.stdout ?? ''}${result.stderr ?? ''}`).toBe('')
  })

  it('runs the packed questlog command, and never prints the key', async () => {
    const env = { QUESTLOG_URL: broker!.url, QUESTLOG_KEY: ADMIN }
    const npx = async (args: string[]) => inProject('npx', ['--no-install', 'questlog', ...args], env)
    const help = await npx(['--help'])
    expect(help.stdout).toMatch(/Usage: questlog/)
    expect(help.stdout).not.toContain(ADMIN)
    const topics = JSON.parse((await npx(['--json', 'topics', 'list'])).stdout)
    expect(topics.map((t: { name: string }) => t.name)).toContain('game.kills')
    const usage = await npx(['topics', 'create']).catch((e) => e)
    expect(usage.code).toBe(2)
    expect(usage.stderr).not.toContain(ADMIN)
  })
})
