/**
 * How deeply a JSON document a client sends may nest. `JSON.parse` takes any depth, but the
 * recursive walks after it (schema checks, `JSON.stringify`) overflow the stack at a few thousand
 * levels, and consumers in other languages refuse far less (Ruby 100, serde 128, Python ~1000).
 */
export const MAX_JSON_DEPTH = 256

/** True when `value` has arrays or objects nested more than `max` levels deep; walks without recursion. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
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
