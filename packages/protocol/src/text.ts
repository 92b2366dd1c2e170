/**
 * Text that PostgreSQL can store and every JSON reader can read back: no NUL
 * (a `text` column refuses it, as does `jsonb` its `\u0000` escape) and no
 * lone surrogate (not encodable as UTF-8; `jsonb` refuses its escape). Returns
 * what is wrong, or null when the text is storable.
 */
export function textProblem(s: string): string | null {
  // most text holds neither NUL nor any surrogate: one plain character class settles it
  if (!SUSPECT.test(s) || !UNSTORABLE.test(s)) return null
  return s.includes('\u0000')
    ? 'holds a NUL character (U+0000), which cannot be stored'
    : 'holds a lone UTF-16 surrogate, which is not valid Unicode text'
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for
const SUSPECT = /[\u0000\ud800-\udfff]/
// code units, not code points (no `u` flag): NUL, a high surrogate not followed by a low one, or a low one not after a high one
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * Deepest nesting of arrays and objects a payload may have. `JSON.parse` takes
 * any depth, but the recursive walks after it (schema checks,
 * `JSON.stringify`, PostgreSQL's JSON reader) give out at a few thousand
 * levels, and consumers in other languages refuse far less (Ruby 100, serde
 * 128).
 */
export const MAX_JSON_DEPTH = 100

/** Deepest nesting of a request body or frame: a payload inside its envelope (`{"events":[{"data":…}]}`). */
export const MAX_BODY_DEPTH = MAX_JSON_DEPTH + 3

/** Whether a parsed JSON value nests arrays and objects deeper than `max`; walks without recursion. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  // two parallel stacks, and no array per node: this runs on every JSON body
  const nodes: object[] = [value]
  const depths: number[] = [1]
  while (nodes.length > 0) {
    const node = nodes.pop() as Record<string, unknown> | unknown[]
    const depth = depths.pop() as number
    if (depth > max) return true
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const child = node[i]
        if (typeof child === 'object' && child !== null) {
          nodes.push(child)
          depths.push(depth + 1)
        }
      }
    } else {
      for (const k in node) {
        const child = node[k]
        if (typeof child === 'object' && child !== null) {
          nodes.push(child)
          depths.push(depth + 1)
        }
      }
    }
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
