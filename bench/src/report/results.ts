import type { MachineInfo } from '../machine'
import type { CatchUpRow } from '../scenarios/catch-up'
import type { FanoutRow } from '../scenarios/fanout'
import type { LatencyRow } from '../scenarios/latency'
import type { LocalBusRow } from '../scenarios/local-bus'
import type { RequestReplyRow } from '../scenarios/request-reply'
import type { UsageSample } from '../scenarios/resources'
import type { ThroughputRow } from '../scenarios/throughput'
import type { Spread } from '../stats'
import type { ProfileSummary } from './cpu-profile'

/** Everything one run measured; BENCHMARKS.md and the plots are made from this alone. */
export interface Results {
  date: string
  command: string
  quick: boolean
  reps: number
  seconds: number
  wallSeconds: number
  machine: MachineInfo
  versions: Record<string, string>
  database: { description: string; settings: Record<string, string> }
  /** What each peer was and how it was started. */
  peers: string[]
  natsSyncAlwaysSupported: boolean
  throughput: ThroughputRow[]
  batchSweep: ThroughputRow[]
  latency: LatencyRow[]
  catchUp: CatchUpRow[]
  /** Scenario 4: one event to many live subscribers (absent from runs before it was written). */
  fanout?: FanoutRow[]
  /** Scenario 5: request/reply round trips with one responder. */
  requestReply?: RequestReplyRow[]
  resources?: {
    idle: UsageSample
    load: UsageSample
    /** Half the Questlog 1-partition, 8-producer median. */
    targetRate: number
    peakRssDuringThroughputMb: number
  }
  /** Spawn → ready of the broker, and of a Node process loading an empty file through tsx, for scale. */
  coldStart?: { spawnToReadyMs: Spread; nodeAloneMs: Spread }
  /** Nanoseconds per SDK `publish()` call, enqueue only. */
  sdkEnqueueNs?: Spread
  /** The in-process bus against Node's EventEmitter, eventemitter3 and mitt. */
  localBus?: LocalBusResults
  profile?: ProfileSummary & { eventsPerSecond: number }
  /** Scenarios not run, and why. */
  missing: string[]
}

export interface LocalBusResults {
  /** When and how this section was measured (it can be measured alone, with `--local-bus-only`). */
  date: string
  command: string
  reps: number
  events: number
  turn: number
  /** The machine's 1-minute load average as the section began (the bench shares its cores). */
  loadAverage?: number
  rows: LocalBusRow[]
}
