import { MAX_JSON_DEPTH } from '@questlog/protocol'

/**
 * Splits the text of a JSON array into the texts of its elements, checking
 * the whole of it against the JSON grammar (RFC 8259) on the way, without
 * building any value: a publish whose payloads arrive as one JSON array keeps
 * each payload's text as sent, to store and to hand to live readers, and
 * never parses and re-serializes it.
 */
export type SplitResult =
  | { ok: true; items: string[] }
  | {
      ok: false
      /** The element the problem is in; -1 when it is in the array itself. */
      index: number
      message: string
    }

class JsonError extends Error {}

enum C {
  Tab = 9,
  Lf = 10,
  Cr = 13,
  Space = 32,
  Quote = 34,
  Plus = 43,
  Comma = 44,
  Minus = 45,
  Dot = 46,
  Zero = 48,
  Nine = 57,
  Colon = 58,
  UpperE = 69,
  OpenBracket = 91,
  Backslash = 92,
  CloseBracket = 93,
  LowerE = 101,
  OpenBrace = 123,
  CloseBrace = 125,
}

/** One pass over the text; `pos` moves forward as values are checked. */
class Scanner {
  pos: number
  /** The closers of the objects and arrays the scan is inside, innermost last (a stack: no recursion). */
  private readonly open: number[] = []

  constructor(
    private readonly s: string,
    start: number,
  ) {
    this.pos = start
  }

  ws(): void {
    const s = this.s
    let i = this.pos
    for (;;) {
      const c = s.charCodeAt(i)
      if (c === C.Space || c === C.Lf || c === C.Cr || c === C.Tab) i++
      else break
    }
    this.pos = i
  }

  fail(what: string): never {
    const at = this.pos < this.s.length ? `'${this.s[this.pos]}'` : 'the end'
    throw new JsonError(`${what}, found ${at} at character ${this.pos}`)
  }

  /** One property name and its colon, up to the value. */
  private name(): void {
    if (this.s.charCodeAt(this.pos) !== C.Quote) this.fail('expected a property name')
    this.string()
    this.ws()
    if (this.s.charCodeAt(this.pos) !== C.Colon) this.fail("expected ':'")
    this.pos++
    this.ws()
  }

  /** Checks one value, however deeply nested, and moves past it. */
  value(): void {
    const s = this.s
    const open = this.open
    open.length = 0
    for (;;) {
      // a value starts here
      const c = s.charCodeAt(this.pos)
      let scalar = true
      if (c === C.Quote) this.string()
      else if (c === C.OpenBrace || c === C.OpenBracket) {
        // as for parsed payloads: readers downstream (PostgreSQL's JSON reader, recursive parsers) have depth limits of their own
        if (open.length >= MAX_JSON_DEPTH) this.fail(`nested deeper than ${MAX_JSON_DEPTH} levels`)
        const close = c === C.OpenBrace ? C.CloseBrace : C.CloseBracket
        this.pos++
        this.ws()
        if (s.charCodeAt(this.pos) === close) this.pos++
        else {
          open.push(close)
          if (close === C.CloseBrace) this.name()
          scalar = false
        }
      } else if (c === C.Minus || (c >= C.Zero && c <= C.Nine)) this.number()
      else if (s.startsWith('true', this.pos)) this.pos += 4
      else if (s.startsWith('false', this.pos)) this.pos += 5
      else if (s.startsWith('null', this.pos)) this.pos += 4
      else this.fail('expected a JSON value')
      if (!scalar) continue
      // after a value: close what ends here, up to the next value or the end of this one
      for (;;) {
        if (open.length === 0) return
        this.ws()
        const close = open[open.length - 1]!
        const d = s.charCodeAt(this.pos)
        if (d === C.Comma) {
          this.pos++
          this.ws()
          if (close === C.CloseBrace) this.name()
          break
        }
        if (d !== close) this.fail(close === C.CloseBrace ? "expected ',' or '}'" : "expected ',' or ']'")
        this.pos++
        open.pop()
      }
    }
  }

  string(): void {
    const s = this.s
    let i = this.pos + 1
    for (;;) {
      const c = s.charCodeAt(i)
      if (c === C.Quote) break
      if (c === C.Backslash) {
        const e = s.charCodeAt(i + 1)
        // " \ / b f n r t
        if (
          e === 34 ||
          e === 92 ||
          e === 47 ||
          e === 98 ||
          e === 102 ||
          e === 110 ||
          e === 114 ||
          e === 116
        ) {
          i += 2
        } else if (e === 117 && isHex4(s, i + 2)) {
          i += 6
        } else {
          this.pos = i
          this.fail('expected an escape sequence')
        }
      } else if (c >= 32) i++
      else {
        // raw control characters are not allowed in JSON strings (NaN: the text ended)
        this.pos = i
        this.fail('expected a closing quote')
      }
    }
    this.pos = i + 1
  }

  number(): void {
    const s = this.s
    const start = this.pos
    let i = start
    if (s.charCodeAt(i) === C.Minus) i++
    const first = s.charCodeAt(i)
    if (first === C.Zero) i++
    else if (first > C.Zero && first <= C.Nine) i = digits(s, i)
    else {
      this.pos = i
      this.fail('expected a digit')
    }
    let plain = true
    if (s.charCodeAt(i) === C.Dot) {
      const after = digits(s, i + 1)
      if (after === i + 1) {
        this.pos = after
        this.fail('expected a digit')
      }
      i = after
    }
    const e = s.charCodeAt(i)
    if (e === C.LowerE || e === C.UpperE) {
      plain = false
      i++
      const sign = s.charCodeAt(i)
      if (sign === C.Plus || sign === C.Minus) i++
      const after = digits(s, i)
      if (after === i) {
        this.pos = after
        this.fail('expected a digit')
      }
      i = after
    }
    // as the schema for parsed payloads: numbers must be finite (1e400 would read back as Infinity)
    if ((!plain || i - start > 300) && !Number.isFinite(Number(s.slice(start, i)))) {
      this.pos = start
      throw new JsonError(
        `a number out of range (${s.slice(start, Math.min(i, start + 20))}…) at character ${start}`,
      )
    }
    this.pos = i
  }
}

function digits(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i)
    if (c >= C.Zero && c <= C.Nine) i++
    else return i
  }
}

function isHex4(s: string, i: number): boolean {
  for (let k = i; k < i + 4; k++) {
    const c = s.charCodeAt(k)
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false
  }
  return true
}

/**
 * The elements of the JSON array in `text` (from `start` on, with nothing but
 * white space after it), each as the text it was sent as.
 */
export function splitJsonArray(text: string, start = 0): SplitResult {
  const sc = new Scanner(text, start)
  const items: string[] = []
  try {
    sc.ws()
    if (text.charCodeAt(sc.pos) !== C.OpenBracket) sc.fail("expected '['")
    sc.pos++
    sc.ws()
    if (text.charCodeAt(sc.pos) === C.CloseBracket) sc.pos++
    else {
      for (;;) {
        const from = sc.pos
        try {
          sc.value()
        } catch (e) {
          if (e instanceof JsonError) return { ok: false, index: items.length, message: e.message }
          throw e
        }
        items.push(text.slice(from, sc.pos))
        sc.ws()
        const c = text.charCodeAt(sc.pos)
        sc.pos++
        if (c === C.CloseBracket) break
        if (c !== C.Comma) {
          sc.pos--
          sc.fail("expected ',' or ']'")
        }
        sc.ws()
      }
    }
    sc.ws()
    if (sc.pos < text.length) sc.fail('expected the end after the array')
    return { ok: true, items }
  } catch (e) {
    if (e instanceof JsonError) return { ok: false, index: -1, message: e.message }
    throw e
  }
}
