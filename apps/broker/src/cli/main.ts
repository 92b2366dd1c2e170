import { isQuestlogError } from '@questlog/protocol'
import { Command } from 'commander'
import { HttpClient } from './client'
import { benchCommand } from './commands/bench'
import { dumpCommands } from './commands/dump'
import { keysCommand } from './commands/keys'
import { publishCommand } from './commands/publish'
import { replayCommand } from './commands/replay'
import { subscribeCommand } from './commands/subscribe'
import { topicsCommand } from './commands/topics'
import type { Context } from './context'
import { createOutput } from './output'

const program = new Command('questlog')
  .description('Questlog: the event bus for game backends')
  .option(
    '-b, --broker <url>',
    'broker URL (QUESTLOG_URL)',
    process.env.QUESTLOG_URL ?? 'http://127.0.0.1:4600',
  )
  .option('-a, --api-key <key>', 'API key or token (QUESTLOG_KEY)', process.env.QUESTLOG_KEY)
  .option('--json', 'machine-readable output')
  .enablePositionalOptions()
  .showHelpAfterError()

const ctx = (): Context => {
  const o = program.opts<{ broker: string; apiKey?: string; json?: boolean }>()
  return { http: new HttpClient({ broker: o.broker, key: o.apiKey }), out: createOutput(Boolean(o.json)) }
}

program
  .command('server')
  .description('run a broker (settings from the environment and QUESTLOG_CONFIG, as `npm run broker`)')
  .action(async () => {
    await import('../main')
  })
topicsCommand(program, ctx)
publishCommand(program, ctx)
subscribeCommand(program, ctx)
replayCommand(program, ctx)
keysCommand(program, ctx)
dumpCommands(program, ctx)
benchCommand(program, ctx)

try {
  await program.parseAsync()
} catch (e) {
  const message = isQuestlogError(e) ? `${e.code}: ${e.message}` : (e as Error).message
  if (program.opts().json)
    process.stderr.write(`${JSON.stringify(isQuestlogError(e) ? e.toJSON() : { error: { message } })}\n`)
  else process.stderr.write(`questlog: ${message}\n`)
  process.exitCode = 1
}
