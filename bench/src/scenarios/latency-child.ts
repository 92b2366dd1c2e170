/**
 * One latency run in a process of its own: builds the target its argument
 * describes, runs it, and prints the run as JSON on stdout.
 */
import { natsLatency } from '../systems/nats-js'
import { questlogSseLatency } from '../systems/questlog-live'
import { questlogSdkLatency } from '../systems/questlog-sdk'
import { redisLatency } from '../systems/redis-streams'
import type { LatencySpec, LatencyTarget } from '../systems/types'
import { runLatency } from './latency'

export interface LatencyChildArgs {
  spec: LatencySpec
  rate: number
  seconds: number
  eventBytes: number
}

function targetOf(s: LatencySpec): LatencyTarget {
  switch (s.system) {
    case 'questlog-sse':
      return questlogSseLatency(() => s.url)
    case 'questlog-sdk':
      return questlogSdkLatency(() => s.url)
    case 'nats':
      return natsLatency(() => s.port, s.durability, s.name)
    case 'redis':
      return redisLatency(() => s.port, s.durability, s.name)
  }
}

const args = JSON.parse(process.argv[2] ?? '{}') as LatencyChildArgs
runLatency(targetOf(args.spec), args.rate, args.seconds, args.eventBytes).then(
  (run) => {
    process.stdout.write(JSON.stringify(run), () => process.exit(0))
  },
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`)
    process.exit(1)
  },
)
