import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}

export interface ProfileSummary {
  totalMs: number
  /** Self time by area of the code (driver, HTTP, validation, GC, …), largest first. */
  byArea: Array<{ area: string; percent: number }>
  /** Self time of the heaviest functions. */
  top: Array<{ fn: string; where: string; percent: number }>
}

const AREAS: Array<[RegExp, string]> = [
  [/node_modules\/postgres\//, 'postgres driver (query encoding, protocol)'],
  [/node_modules\/(fastify|find-my-way|light-my-request|avvio|@fastify)/, 'fastify (HTTP routing, reply)'],
  [/node_modules\/zod\//, 'zod (request validation)'],
  [/node_modules\/uuid\//, 'uuid (event ids)'],
  [/node_modules\/(pino|prom-client)/, 'logging and metrics'],
  [/packages\/protocol\//, 'protocol package'],
  [/apps\/broker\/src\/publish\//, 'broker publish path'],
  [/apps\/broker\/src\/storage\//, 'broker storage'],
  [/apps\/broker\/src\/http\//, 'broker HTTP handlers'],
  [/apps\/broker\//, 'broker, other'],
  [/^node:|^$/, 'Node built-ins (JSON, buffers, sockets, promises)'],
]

function areaOf(node: ProfileNode): string {
  const { functionName, url } = node.callFrame
  if (functionName === '(garbage collector)') return 'garbage collection'
  if (functionName === '(idle)') return 'idle'
  if (functionName === '(program)') return 'V8/native (program)'
  for (const [re, area] of AREAS) if (re.test(url)) return area
  return 'other'
}

function shortWhere(url: string, line: number): string {
  const m = url.match(/(node_modules\/(?:@[^/]+\/)?[^/]+|apps\/[^/]+|packages\/[^/]+)\/(.*)$/)
  const where = m ? `${m[1]!.replace('node_modules/', '')}/${m[2]}` : url.replace(/^file:\/\//, '')
  return where ? `${where}:${line + 1}` : '(native)'
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

const busyHits = (p: Profile) =>
  p.nodes.reduce((sum, n) => sum + (n.callFrame.functionName === '(idle)' ? 0 : (n.hitCount ?? 0)), 0)

/**
 * Summarizes the main thread's `.cpuprofile` in `dir` by self time, leaving out
 * idle time. tsx's module loader runs in a worker that writes a profile of its
 * own; the main thread's is the busiest one.
 */
export function summarizeProfile(dir: string, topN = 12, skipMs = 0): ProfileSummary {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
  if (files.length === 0) throw new Error(`no .cpuprofile written in ${dir}`)
  const profiles = files.map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Profile)
  const profile = profiles.sort((a, b) => busyHits(b) - busyHits(a))[0]!
  const interval = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length)
  // hits counted from the samples after `skipMs`, so start-up (module loading) stays out
  const hitsById = new Map<number, number>()
  let t = 0
  profile.samples.forEach((id, i) => {
    t += (profile.timeDeltas[i] ?? 0) / 1000
    if (t >= skipMs) hitsById.set(id, (hitsById.get(id) ?? 0) + 1)
  })
  if (hitsById.size === 0) for (const n of profile.nodes) hitsById.set(n.id, n.hitCount ?? 0)
  const area = new Map<string, number>()
  const fn = new Map<string, { fn: string; where: string; hits: number }>()
  let busy = 0
  for (const n of profile.nodes) {
    const hits = hitsById.get(n.id) ?? 0
    if (hits === 0) continue
    const a = areaOf(n)
    if (a === 'idle') continue
    busy += hits
    area.set(a, (area.get(a) ?? 0) + hits)
    const where = shortWhere(n.callFrame.url, n.callFrame.lineNumber)
    const name = n.callFrame.functionName || '(anonymous)'
    const key = `${name}@${where}`
    const entry = fn.get(key) ?? { fn: name, where, hits: 0 }
    entry.hits += hits
    fn.set(key, entry)
  }
  const pct = (h: number) => (busy === 0 ? 0 : (h / busy) * 100)
  return {
    totalMs: busy * interval,
    byArea: [...area].map(([a, h]) => ({ area: a, percent: pct(h) })).sort((x, y) => y.percent - x.percent),
    top: [...fn.values()]
      .sort((x, y) => y.hits - x.hits)
      .slice(0, topN)
      .map((e) => ({ fn: e.fn, where: e.where, percent: pct(e.hits) })),
  }
}
