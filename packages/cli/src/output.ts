/** Human-readable output by default, JSON with --json (one document, or NDJSON for streams). */
export interface Output {
  json: boolean
  /** A result: pretty for people, JSON for scripts. */
  result(value: unknown, human?: () => string): void
  /** One item of a stream (an event): a line either way. */
  line(value: unknown, human: () => string): void
  /** Progress of long work, on stderr so stdout stays clean for data. */
  progress(done: number, total: number | null, what: string): void
  endProgress(): void
}

export function createOutput(json: boolean): Output {
  let last = 0
  const tty = process.stderr.isTTY
  return {
    json,
    result(value, human) {
      process.stdout.write(json || !human ? `${JSON.stringify(value, null, json ? 0 : 2)}\n` : `${human()}\n`)
    },
    line(value, human) {
      process.stdout.write(`${json ? JSON.stringify(value) : human()}\n`)
    },
    progress(done, total, what) {
      const now = Date.now()
      if (now - last < (tty ? 100 : 2000) && done !== total) return
      last = now
      const pct = total ? ` ${Math.floor((done / Math.max(total, 1)) * 100)}%` : ''
      const text = `${what}: ${done}${total === null ? '' : `/${total}`}${pct}`
      process.stderr.write(tty ? `\r${text}   ` : `${text}\n`)
    },
    endProgress() {
      if (tty) process.stderr.write('\n')
    },
  }
}

/** Columns padded to the widest cell. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)'
  const cells = rows.map((r) =>
    columns.map((c) => (r[c] === null || r[c] === undefined ? '-' : String(r[c]))),
  )
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)))
  const fmt = (row: string[]) =>
    row
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [fmt(columns.map((c) => c.toUpperCase())), ...cells.map(fmt)].join('\n')
}
