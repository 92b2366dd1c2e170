/**
 * Compatibility of two JSON Schemas, for the subset schema generators (zod's
 * toJSONSchema among them) produce: types, objects with properties / required /
 * additionalProperties, arrays, enums, consts, numeric and length bounds,
 * anyOf. `canRead(reader, writer)` is true when every document valid under
 * `writer` is also valid under `reader`; anything it cannot prove is reported.
 */

type Schema = Record<string, unknown> | boolean

export interface Incompatibility {
  path: string
  message: string
}

const at = (path: string, key: string) => (path ? `${path}.${key}` : key)

function types(s: Record<string, unknown>): Set<string> | null {
  const t = s.type
  if (t === undefined) return null
  const list = Array.isArray(t) ? (t as string[]) : [t as string]
  const out = new Set(list)
  if (out.has('number')) out.add('integer')
  return out
}

function num(s: Record<string, unknown>, k: string): number | undefined {
  return typeof s[k] === 'number' ? (s[k] as number) : undefined
}

export function canRead(reader: Schema, writer: Schema, path = ''): Incompatibility[] {
  if (
    reader === true ||
    (typeof reader === 'object' && Object.keys(reader).filter((k) => k !== '$schema').length === 0)
  )
    return []
  if (writer === false) return []
  if (reader === false) return [{ path, message: 'the new schema accepts nothing here' }]
  if (writer === true)
    return [{ path, message: 'the old schema accepted anything here; the new one does not' }]
  const out: Incompatibility[] = []
  if (Array.isArray(writer.anyOf)) {
    for (const [i, w] of (writer.anyOf as Schema[]).entries())
      out.push(...canRead(reader, w, path).map((x) => ({ ...x, message: `${x.message} (old variant ${i})` })))
    return out
  }
  if (Array.isArray(reader.anyOf)) {
    const options = reader.anyOf as Schema[]
    return options.some((r) => canRead(r, writer, path).length === 0)
      ? []
      : [{ path, message: 'no variant of the new schema accepts what the old one did' }]
  }
  const rt = types(reader)
  const wt = types(writer)
  if (rt) {
    if (!wt) return [{ path, message: `now limited to type ${[...rt].join('|')}` }]
    for (const t of wt)
      if (!rt.has(t) && !(t === 'integer' && rt.has('number')))
        out.push({ path, message: `type ${t} is no longer accepted` })
  }
  if (Array.isArray(reader.enum)) {
    const allowed = new Set((reader.enum as unknown[]).map((v) => JSON.stringify(v)))
    const old = Array.isArray(writer.enum)
      ? (writer.enum as unknown[])
      : writer.const !== undefined
        ? [writer.const]
        : null
    if (!old) out.push({ path, message: 'now limited to fixed values' })
    else
      for (const v of old)
        if (!allowed.has(JSON.stringify(v)))
          out.push({ path, message: `value ${JSON.stringify(v)} is no longer accepted` })
  }
  if (reader.const !== undefined && JSON.stringify(reader.const) !== JSON.stringify(writer.const)) {
    out.push({ path, message: `now fixed to ${JSON.stringify(reader.const)}` })
  }
  for (const [k, tighter] of [
    ['minimum', (r: number, w: number) => r > w],
    ['exclusiveMinimum', (r: number, w: number) => r > w],
    ['minLength', (r: number, w: number) => r > w],
    ['minItems', (r: number, w: number) => r > w],
    ['maximum', (r: number, w: number) => r < w],
    ['exclusiveMaximum', (r: number, w: number) => r < w],
    ['maxLength', (r: number, w: number) => r < w],
    ['maxItems', (r: number, w: number) => r < w],
  ] as const) {
    const r = num(reader, k)
    if (r === undefined) continue
    const w = num(writer, k)
    if (w === undefined || tighter(r, w))
      out.push({ path, message: `${k} is now ${r}${w === undefined ? '' : ` (was ${w})`}` })
  }
  if (typeof reader.pattern === 'string' && reader.pattern !== writer.pattern)
    out.push({ path, message: 'the pattern changed' })
  // objects
  const rp = (reader.properties ?? {}) as Record<string, Schema>
  const wp = (writer.properties ?? {}) as Record<string, Schema>
  const wRequired = new Set((writer.required ?? []) as string[])
  for (const k of (reader.required ?? []) as string[]) {
    if (!wRequired.has(k)) out.push({ path: at(path, k), message: 'is now required; old events may lack it' })
  }
  for (const [k, r] of Object.entries(rp)) {
    if (k in wp) out.push(...canRead(r, wp[k]!, at(path, k)))
    else if (writer.additionalProperties !== false)
      out.push(...canRead(r, (writer.additionalProperties as Schema) ?? true, at(path, k)))
  }
  if (reader.additionalProperties === false) {
    for (const k of Object.keys(wp))
      if (!(k in rp)) out.push({ path: at(path, k), message: 'was allowed and is now refused' })
    if (writer.type === 'object' && writer.additionalProperties !== false) {
      out.push({ path, message: 'extra fields were allowed and are now refused' })
    }
  }
  // arrays
  if (reader.items !== undefined)
    out.push(...canRead(reader.items as Schema, (writer.items as Schema) ?? true, at(path, '[]')))
  return out
}

export type Compatibility = 'backward' | 'forward' | 'full' | 'none'

/** Problems that keep `next` from replacing `previous` under the given rule. */
export function checkCompatibility(rule: Compatibility, previous: Schema, next: Schema): Incompatibility[] {
  switch (rule) {
    case 'none':
      return []
    case 'backward':
      return canRead(next, previous)
    case 'forward':
      return canRead(previous, next)
    case 'full':
      return [...canRead(next, previous), ...canRead(previous, next)]
  }
}
