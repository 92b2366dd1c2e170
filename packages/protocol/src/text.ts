/**
 * Text that PostgreSQL can store and every JSON reader can read back: no NUL
 * (a `text` column refuses it, as does `jsonb` its `\u0000` escape) and no
 * lone surrogate (not encodable as UTF-8; `jsonb` refuses its escape). Returns
 * what is wrong, or null when the text is storable.
 */
export function textProblem(s: string): string | null {
  if (!UNSTORABLE.test(s)) return null
  return s.includes('\u0000')
    ? 'holds a NUL character (U+0000), which cannot be stored'
    : 'holds a lone UTF-16 surrogate, which is not valid Unicode text'
}

// code units, not code points (no `u` flag): NUL, a high surrogate not followed by a low one, or a low one not after a high one
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Deepest nesting of arrays and objects a payload may have; deeper ones are refused before anything recurses over them. */
export const MAX_JSON_DEPTH = 100

/**
 * Whether a parsed JSON value nests arrays and objects deeper than `max`.
 * Walks with a stack of its own: a hostile value cannot overflow the call
 * stack here, as it would in JSON.stringify or a recursive check.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  const stack: Array<{ v: object; depth: number }> = [{ v: value, depth: 1 }]
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!
    if (depth > max) return true
    const children = Array.isArray(v) ? v : Object.values(v)
    for (const c of children) if (typeof c === 'object' && c !== null) stack.push({ v: c, depth: depth + 1 })
  }
  return false
}

/**
 * JSON text made safe to splice into line-based framings (Server-Sent Events):
 * valid JSON holds a raw CR or LF only as whitespace between tokens (inside a
 * string they must be escaped), so each can become a space without changing
 * the value.
 */
export function singleLineJson(text: string): string {
  return text.includes('\n') || text.includes('\r') ? text.replace(/[\r\n]/g, ' ') : text
}
