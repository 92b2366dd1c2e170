/**
 * How deeply a JSON document a client sends may nest. `JSON.parse` takes any depth, but the
 * recursive walks after it (schema checks, `JSON.stringify`) overflow the stack at a few thousand
 * levels, and consumers in other languages refuse far less (Ruby 100, serde 128, Python ~1000).
 */
export const MAX_JSON_DEPTH = 256

/** True when `value` has arrays or objects nested more than `max` levels deep; walks without recursion. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  const stack: Array<[object, number]> = [[value, 1]]
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, depth] = top
    if (depth > max) return true
    const children = Array.isArray(node) ? node : Object.values(node)
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
    }
  }
  return false
}
