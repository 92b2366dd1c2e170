import { isQuestlogError } from '@questlog/protocol'
import { CommanderError, InvalidArgumentError } from 'commander'

/** Exit codes, as most command-line tools use them. */
export const EXIT = {
  ok: 0,
  /** The command ran and failed: the broker refused it, or could not be reached. */
  failure: 1,
  /** The command line was wrong: an unknown command or option, a missing or bad argument. */
  usage: 2,
} as const

/** A command line the CLI cannot act on, found after commander parsed it (e.g. two exclusive options). */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** Writes one line about `e` to stderr (a JSON document with `--json`) and returns the exit code. */
export function report(e: unknown, json: boolean): number {
  const usage = e instanceof CommanderError || e instanceof InvalidArgumentError || e instanceof UsageError
  const message = (e instanceof Error ? e.message : String(e)).replace(/^error: /, '').split('\n')[0]!
  const body = isQuestlogError(e) ? e.toJSON() : { error: { code: usage ? 'usage' : 'failed', message } }
  if (json) process.stderr.write(`${JSON.stringify(body)}\n`)
  else
    process.stderr.write(
      `questlog: ${isQuestlogError(e) ? `${e.code}: ${e.message}` : message}${usage ? ' (see questlog --help)' : ''}\n`,
    )
  return usage ? EXIT.usage : EXIT.failure
}
