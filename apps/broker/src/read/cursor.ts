import { ValidationError } from '@questlog/protocol'

/** Where a reader stands: per partition, the next offset it wants, plus the filters of its query. */
export interface Cursor {
  topicId: number
  positions: Map<number, number>
  sinceMs?: number | undefined
  untilMs?: number | undefined
  key?: string | undefined
  type?: string | undefined
}

interface Wire {
  t: number
  p: Array<[number, number]>
  s?: number
  u?: number
  k?: string
  y?: string
}

/** Opaque to clients: base64url of a small JSON document. */
export function encodeCursor(c: Cursor): string {
  const wire: Wire = { t: c.topicId, p: [...c.positions] }
  if (c.sinceMs !== undefined) wire.s = c.sinceMs
  if (c.untilMs !== undefined) wire.u = c.untilMs
  if (c.key !== undefined) wire.k = c.key
  if (c.type !== undefined) wire.y = c.type
  return Buffer.from(JSON.stringify(wire)).toString('base64url')
}

export function decodeCursor(text: string, topicId: number, field: string): Cursor {
  const bad = (why: string) =>
    new ValidationError([{ path: field, message: `not a cursor of this topic: ${why}` }])
  let wire: Wire
  try {
    wire = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Wire
  } catch {
    throw bad('unreadable')
  }
  if (typeof wire !== 'object' || wire === null || !Array.isArray(wire.p)) throw bad('unreadable')
  if (wire.t !== topicId) throw bad('it belongs to another topic')
  const positions = new Map<number, number>()
  for (const pair of wire.p) {
    if (!Array.isArray(pair) || !pair.every((n) => Number.isSafeInteger(n) && n >= 0))
      throw bad('bad position')
    positions.set(pair[0] as number, pair[1] as number)
  }
  return { topicId, positions, sinceMs: wire.s, untilMs: wire.u, key: wire.k, type: wire.y }
}
