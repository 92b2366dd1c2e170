/** One producer-throughput cell. */
export interface ThroughputCase {
  partitions: number
  producers: number
  eventBytes: number
  /** Events per HTTP request, per pipeline, or in flight per producer. */
  batch: number
}

/** Sends one batch and resolves with the number of events acknowledged durably (as the system defines it). */
export type SendBatch = () => Promise<number>

export interface OpenedTarget {
  producers: SendBatch[]
  close(): Promise<void>
}

/** A system under test, reached the way a Node user would reach it. */
export interface ThroughputTarget {
  /** Short name for tables and plots. */
  name: string
  /** What an ack means here, printed beside every figure. */
  durability: string
  open(c: ThroughputCase): Promise<OpenedTarget>
}

/** A received event's latency sink: called with the `sentAt` read from the event. */
export type OnReceive = (sentAt: number) => void

/**
 * How another process builds a latency target again: each latency run gets a
 * process of its own (see `runLatencyInChild`).
 */
export type LatencySpec =
  | { system: 'questlog-sse' | 'questlog-sdk'; url: string }
  | { system: 'nats' | 'redis'; port: number; durability: string; name: string }

/** A system measured end to end: a fixed-rate publisher and one live consumer. */
export interface LatencyTarget {
  name: string
  durability: string
  /** This target, as a child process builds it (read when a run starts: ports and URLs are known by then). */
  spec(): LatencySpec
  /** Opens a 1-partition topic/stream/subject with a live consumer calling `onReceive` per event. */
  openLive(
    eventBytes: number,
    onReceive: OnReceive,
  ): Promise<{
    publish(events: string[]): Promise<void>
    close(): Promise<void>
  }>
}

/** A system whose stored events are read back from the start as fast as a consumer can. */
export interface CatchUpTarget {
  name: string
  /** Stores `count` events, then returns a reader that resolves once it has read them all. */
  fill(count: number, eventBytes: number): Promise<{ readAll(): Promise<number>; close(): Promise<void> }>
}
