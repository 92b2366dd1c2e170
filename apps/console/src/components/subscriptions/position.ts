import { type StartPosition, startPositionSchema } from '@questlog/protocol'

export const POSITION_KINDS = ['earliest', 'latest', 'offset', 'time'] as const
export type PositionKind = (typeof POSITION_KINDS)[number]

export const POSITION_LABELS: Record<PositionKind, string> = {
  earliest: 'earliest (every stored event)',
  latest: 'latest (only new events)',
  offset: 'an offset',
  time: 'a time',
}

/** The chosen kind and its typed value as a start position, or the reason it is not one. */
export function parsePosition(
  kind: PositionKind,
  text: string,
): { ok: true; value: StartPosition } | { ok: false; error: string } {
  let candidate: unknown = kind
  if (kind === 'offset') {
    const n = Number(text.trim())
    if (text.trim() === '' || !Number.isInteger(n)) return { ok: false, error: 'enter a whole number' }
    candidate = { offset: n }
  } else if (kind === 'time') {
    candidate = { time: text.trim() }
  }
  const parsed = startPositionSchema.safeParse(candidate)
  if (parsed.success) return { ok: true, value: parsed.data }
  const issue = parsed.error.issues.find((i) => i.code !== 'invalid_union') ?? parsed.error.issues[0]
  return { ok: false, error: unionMessage(parsed.error.issues) ?? issue?.message ?? 'not a position' }
}

/** zod reports a failed union as one issue holding each branch's issues: take the one that fits the kind. */
function unionMessage(issues: ReadonlyArray<{ code: string; message: string; errors?: unknown }>) {
  for (const issue of issues) {
    const branches = (issue as { errors?: Array<Array<{ message: string; code: string }>> }).errors
    const specific = branches?.flat().find((b) => b.code === 'custom' || b.code === 'too_small')
    if (specific) return specific.message
  }
  return undefined
}

export const positionHint = (kind: PositionKind) =>
  kind === 'offset'
    ? 'The same offset on every partition'
    : kind === 'time'
      ? "ISO-8601, epoch ms, or a span ago such as '15m'"
      : ''
