import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'

/** What one run measures and for how long; `--quick` is a smoke run, the default the full one. */
export interface BenchOptions {
  quick: boolean
  /** Repetitions of every measured cell; systems alternate inside each repetition. */
  reps: number
  /** Measured seconds of one throughput cell, after a short warm-up. */
  seconds: number
  warmupSeconds: number
  /** Producer-throughput cells: [partitions, producers, event bytes]. */
  cases: Array<[number, number, number]>
  /** Batch sizes swept for the throughput-vs-batch plot (8 partitions, 8 producers, 200 B). */
  batchSizes: number[]
  /** Fixed publish rates for the end-to-end latency scenario, events/s. */
  rates: number[]
  latencySeconds: number
  /** Events stored and then read back by the catch-up scenario. */
  catchUpEvents: number
  /** Fan-out (scenario 4): live subscribers, events published one at a time, and their rate per second. */
  fanoutSubscribers: number
  fanoutEvents: number
  fanoutRate: number
  /** Request/reply (scenario 5): closed-loop requester counts, and measured seconds per cell. */
  requestReplyConcurrency: number[]
  requestReplySeconds: number
  /** Record a CPU profile of the broker during one extra, unmeasured throughput run. */
  profile: boolean
  /** Where BENCHMARKS.md and the plots go: the repository's docs/, or a temp folder for `--quick`. */
  docsDir: string
  /** The command line, as the report prints it. */
  command: string
  /** Re-render BENCHMARKS.md from the saved results.json (after editing analysis.md) without measuring. */
  renderOnly: boolean
  /** Measure the in-process bus alone (seconds, no broker) and render its section into the saved results. */
  localBusOnly: boolean
}

export function parseOptions(argv: string[], docsDir: string): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      'no-profile': { type: 'boolean', default: false },
      'render-only': { type: 'boolean', default: false },
      'local-bus-only': { type: 'boolean', default: false },
      reps: { type: 'string' },
      out: { type: 'string' },
    },
    allowPositionals: false,
  })
  const quick = values.quick ?? false
  const base: BenchOptions = quick
    ? {
        quick,
        reps: 1,
        seconds: 1,
        warmupSeconds: 0.3,
        cases: [
          [1, 8, 200],
          [8, 8, 200],
        ],
        batchSizes: [100, 1000],
        rates: [5000],
        latencySeconds: 2,
        catchUpEvents: 20_000,
        fanoutSubscribers: 100,
        fanoutEvents: 60,
        fanoutRate: 50,
        requestReplyConcurrency: [1, 8],
        requestReplySeconds: 1,
        profile: false,
        // a smoke run must not overwrite the committed report
        docsDir: path.join(tmpdir(), 'questlog-bench-quick'),
        command: 'npm run bench -- --quick',
        renderOnly: false,
        localBusOnly: false,
      }
    : {
        quick,
        reps: 3,
        seconds: 2.5,
        warmupSeconds: 0.5,
        cases: [
          [1, 8, 200],
          [8, 8, 200],
          [1, 1, 200],
          [8, 1, 200],
          [1, 8, 1024],
          [8, 8, 1024],
        ],
        batchSizes: [1, 10, 100, 1000],
        rates: [1000, 5000, 20_000],
        latencySeconds: 3,
        catchUpEvents: 1_000_000,
        fanoutSubscribers: 100,
        fanoutEvents: 250,
        fanoutRate: 50,
        requestReplyConcurrency: [1, 8],
        requestReplySeconds: 3,
        profile: true,
        docsDir,
        command: 'npm run bench',
        renderOnly: false,
        localBusOnly: false,
      }
  base.renderOnly = values['render-only'] ?? false
  base.localBusOnly = values['local-bus-only'] ?? false
  if (values.reps) base.reps = Math.max(1, Number(values.reps))
  if (values['no-profile']) base.profile = false
  if (values.out) base.docsDir = values.out
  const extra = argv.filter((a) => a !== '--quick' && a !== '--render-only' && a !== '--local-bus-only')
  if (extra.length > 0 && !quick) base.command = `npm run bench -- ${extra.join(' ')}`
  return base
}
