import type { ValidationIssue } from '@questlog/protocol'

interface QuestlogErrorData {
  code: string
  message: string
  details?: { issues?: ValidationIssue[] }
}

/** The Questlog error the broker put in a tRPC error's `data.questlog`, if any. */
export function questlogError(e: unknown): QuestlogErrorData | null {
  const data = (e as { data?: { questlog?: QuestlogErrorData | null } } | null)?.data
  return data?.questlog ?? null
}

/** Field path → message, from the broker's validation issues. */
export function fieldIssues(e: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  for (const issue of questlogError(e)?.details?.issues ?? []) {
    const field = issue.path.split('.').at(-1) || issue.path
    out[field] ??= issue.message
  }
  return out
}

/** One sentence a person can act on. */
export function describeError(e: unknown): string {
  const qe = questlogError(e)
  if (qe) return capitalize(qe.message)
  const message = e instanceof Error ? e.message : String(e)
  if (/fetch|network|Failed to/i.test(message)) {
    return 'The console cannot reach its server. Check that the console and the broker are running.'
  }
  return `Something went wrong: ${message}`
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

/**
 * The broker's refusal of a form, field by field: each validation issue goes to
 * the field its path names (`fieldOf`), error codes may name a field too
 * (`byCode`), and anything left over is said for the whole form.
 */
export function formErrors<K extends string>(
  err: unknown,
  fieldOf: (path: string) => K,
  byCode: Partial<Record<string, K>> = {},
): Partial<Record<K | 'form', string>> {
  const qe = questlogError(err)
  const out: Partial<Record<K | 'form', string>> = {}
  for (const issue of qe?.details?.issues ?? []) out[fieldOf(issue.path)] ??= issue.message
  const coded = qe ? byCode[qe.code] : undefined
  if (qe && coded !== undefined) out[coded] = qe.message
  if (Object.keys(out).length === 0) out.form = qe?.message ?? String(err)
  return out
}
