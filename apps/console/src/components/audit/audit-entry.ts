/** What an audit entry's action says, in the console's words: admin API calls by procedure. */
export function describeAction(action: string, target: string | null): { what: string; target: string } {
  const trpc = target?.startsWith('/trpc/') ? target.slice('/trpc/'.length) : null
  if (trpc) return { what: 'admin API', target: trpc.split(',').join(', ') }
  return { what: action, target: target ?? '—' }
}

export const OUTCOMES = [
  { value: '', label: 'All' },
  { value: 'ok', label: 'Allowed' },
  { value: 'forbidden', label: 'Forbidden (403)' },
  { value: 'unauthenticated', label: 'Unauthenticated (401)' },
] as const

export const OUTCOME_TONE: Record<string, string> = {
  ok: 'ok',
  forbidden: 'down',
  unauthenticated: 'degraded',
}
