import { writeFileSync } from 'node:fs'
import os from 'node:os'
import { buildBroker, stopAll } from '@questlog/testkit'
import { runScenario, type ScenarioResult } from './scenario'
import { SCENARIOS } from './scenarios'

/**
 * `npm run chaos [-- --out FILE] [scenario names…]`: runs the fault scenarios
 * one after another, prints each one's figures, writes a markdown report
 * (docs/RELIABILITY.md is one), and exits non-zero when a property was violated.
 */
const args = process.argv.slice(2)
const outAt = args.indexOf('--out')
const out = outAt >= 0 ? args[outAt + 1] : undefined
const names = args.filter((a, i) => !a.startsWith('--') && !(outAt >= 0 && i === outAt + 1))
const chosen = names.length > 0 ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS
const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n))
if (unknown.length > 0) {
  console.error(
    `unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
  )
  process.exit(2)
}

const started = new Date()
buildBroker()
const results: ScenarioResult[] = []
try {
  for (const s of chosen) {
    const r = await runScenario(s)
    results.push(r)
    console.log(`\n${r.violations.length === 0 ? 'PASS' : 'FAIL'} ${s.name} (${(r.ms / 1000).toFixed(1)} s)`)
    for (const [k, v] of Object.entries(r.figures)) console.log(`  ${k}: ${v}`)
    for (const v of r.violations) console.log(`  VIOLATED: ${v}`)
    if (r.error) console.log(r.error)
  }
} finally {
  await stopAll()
}
if (out) writeFileSync(out, report(results, started))
const failed = results.filter((r) => r.violations.length > 0)
console.log(`\n${results.length - failed.length} passed, ${failed.length} failed`)
process.exit(failed.length > 0 ? 1 : 0)

function report(rs: ScenarioResult[], at: Date): string {
  const lines = [
    '# Reliability: the fault suite',
    '',
    `Made by \`npm run chaos -- --out ../docs/RELIABILITY.md\` (from the repository root; npm runs the script inside \`chaos/\`) on ${at.toISOString().slice(0, 10)}, ${os.cpus().length} cores, Node ${process.version}, PostgreSQL 15.`,
    '',
    'Every scenario runs real processes: brokers are the built bundle (`npm run broker`) in processes of their own,',
    'PostgreSQL servers are private clusters on 127.0.0.1, faults are signals sent by PID, and the load is',
    '`@questlog/sdk-node` clients publishing keyed events with their own batching, retries and dedupe keys.',
    'The checker then reads every partition back and compares it with what was acked: no acked event lost, none',
    "stored twice, offsets gapless per partition, and each receipt's offset holding that event.",
    '',
    '| scenario | result | time |',
    '| --- | --- | --- |',
    ...rs.map(
      (r) =>
        `| ${r.scenario.name} | ${r.violations.length === 0 ? 'pass' : `**fail**: ${r.violations.join('; ')}`} | ${(r.ms / 1000).toFixed(0)} s |`,
    ),
    '',
  ]
  for (const r of rs) {
    lines.push(`## ${r.scenario.name}`, '', r.scenario.title, '', '| figure | value |', '| --- | --- |')
    for (const [k, v] of Object.entries(r.figures)) lines.push(`| ${k} | ${v} |`)
    lines.push('')
  }
  return `${lines.join('\n')}\n`
}
