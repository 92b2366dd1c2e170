/**
 * NATS-style subjects: dot-separated tokens. In a pattern, `*` stands for
 * exactly one token and `>` (last token only) for one or more tokens.
 */

const TOKEN = /^[A-Za-z0-9_\-:]+$/
/** Tokens joined by single dots, checked in one pass (publish checks every event's type). */
const SUBJECT = /^[A-Za-z0-9_\-:]+(?:\.[A-Za-z0-9_\-:]+)*$/

export function isValidSubject(subject: string): boolean {
  return subject.length <= 255 && SUBJECT.test(subject)
}

/** Returns why `pattern` is not a valid subject pattern, or null when it is. */
export function subjectPatternError(pattern: string): string | null {
  if (pattern.length === 0) return 'pattern is empty'
  if (pattern.length > 255) return 'pattern is longer than 255 characters'
  const tokens = pattern.split('.')
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as string
    if (t === '') return 'pattern has an empty token (two dots, or a leading or trailing dot)'
    if (t === '>' && i !== tokens.length - 1) return "'>' may only be the last token"
    if (t !== '*' && t !== '>' && !TOKEN.test(t)) {
      return `token '${t}' may hold only letters, digits, '_', '-' and ':', or be '*' or '>'`
    }
  }
  return null
}

export function isValidSubjectPattern(pattern: string): boolean {
  return subjectPatternError(pattern) === null
}

export function isWildcardPattern(pattern: string): boolean {
  return pattern.split('.').some((t) => t === '*' || t === '>')
}

/** Compiles a pattern into a predicate; throws on an invalid pattern. */
export function compileSubjectPattern(pattern: string): (subject: string) => boolean {
  const problem = subjectPatternError(pattern)
  if (problem) throw new Error(`invalid subject pattern '${pattern}': ${problem}`)
  if (!isWildcardPattern(pattern)) return (subject) => subject === pattern
  const tokens = pattern.split('.')
  const tail = tokens[tokens.length - 1] === '>'
  const fixed = tail ? tokens.slice(0, -1) : tokens
  return (subject) => {
    const parts = subject.split('.')
    if (tail ? parts.length <= fixed.length : parts.length !== fixed.length) return false
    for (let i = 0; i < fixed.length; i++) {
      const want = fixed[i]
      if (want !== '*' && want !== parts[i]) return false
    }
    return true
  }
}

export function matchSubject(pattern: string, subject: string): boolean {
  return compileSubjectPattern(pattern)(subject)
}

/** The same pattern as a POSIX regular expression, anchored, for SQL `~`. */
export function subjectPatternToRegex(pattern: string): string {
  const problem = subjectPatternError(pattern)
  if (problem) throw new Error(`invalid subject pattern '${pattern}': ${problem}`)
  const body = pattern
    .split('.')
    .map((t) => (t === '*' ? '[^.]+' : t === '>' ? '.+' : t.replace(/[-]/g, '\\-')))
    .join('\\.')
  return `^${body}$`
}
