#!/usr/bin/env node
import { Command, CommanderError } from 'commander'
import { adminCommands } from './commands/admin'
import { benchCommand } from './commands/bench'
import { dumpCommands } from './commands/dump'
import { keysCommand } from './commands/keys'
import { publishCommand } from './commands/publish'
import { replayCommand } from './commands/replay'
import { subscribeCommand } from './commands/subscribe'
import { subscriptionsCommand } from './commands/subscriptions'
import { topicsCommand } from './commands/topics'
import { createContext } from './context'
import { EXIT, report } from './errors'

const program = new Command('questlog')
  .description('Questlog: the event bus for game backends')
  .option('-b, --broker <url>', 'broker URL (default: QUESTLOG_URL, else http://127.0.0.1:4600)')
  // no default shown: the key comes from QUESTLOG_KEY when the flag is absent, and is never printed
  .option('-a, --api-key <key>', 'API key or token (default: QUESTLOG_KEY)')
  .option('--json', 'machine-readable output (errors too, on stderr)')
  .enablePositionalOptions()
  .exitOverride()
  .configureOutput({
    // usage errors are reported once, below, as one line (JSON with --json)
    outputError: () => {},
  })

const ctx = () => createContext(program.opts())

topicsCommand(program, ctx)
publishCommand(program, ctx)
subscribeCommand(program, ctx)
subscriptionsCommand(program, ctx)
replayCommand(program, ctx)
keysCommand(program, ctx)
adminCommands(program, ctx)
dumpCommands(program, ctx)
benchCommand(program, ctx)

try {
  await program.parseAsync()
} catch (e) {
  if (e instanceof CommanderError && e.exitCode === 0)
    process.exitCode = EXIT.ok // --help, --version
  else process.exitCode = report(e, Boolean(program.opts().json || process.argv.includes('--json')))
}
