import type { Sql } from '../storage/db'
import {
  DedupeConflict,
  dedupeReceipts,
  type NewEvent,
  type StoredEvent,
  writeBatch,
} from '../storage/event-store'
import type { SegmentRegistry } from '../storage/segments'

export interface WriteResult {
  id: string
  partition: number
  offset: number
  duplicate: boolean
}

interface Pending {
  event: NewEvent
  resolve: (r: WriteResult) => void
  reject: (e: unknown) => void
}

export interface WriterTopic {
  id: number
  segmentMs: number
  dedupeWindowMs: number
}

export interface WriterDeps {
  sql: Sql
  segments: SegmentRegistry
  maxBatchEvents: number
  notifyPayload: (topicId: number, partition: number, next: number) => string
  notifyChannel: string
  onCommitted: (topicId: number, partition: number, first: number, events: StoredEvent[]) => void
  onBatch: (events: number, seconds: number) => void
}

const RETRYABLE_PG = new Set(['40P01', '40001'])

/**
 * Group commit for one partition: publishes that arrive while a transaction is
 * in flight wait and go together in the next one. No linger timer: an idle
 * partition writes at once; a busy one batches by itself.
 */
export class PartitionWriter {
  private queue: Pending[] = []
  private running = false
  private lastTimeMs = 0

  constructor(
    private readonly topic: () => WriterTopic,
    readonly partition: number,
    private readonly deps: WriterDeps,
  ) {}

  get queued(): number {
    return this.queue.length
  }

  append(events: NewEvent[]): Promise<WriteResult>[] {
    const promises = events.map(
      (event) => new Promise<WriteResult>((resolve, reject) => this.queue.push({ event, resolve, reject })),
    )
    if (!this.running) void this.run()
    return promises
  }

  /** Fails everything still queued (topic deleted, broker stopping). */
  failAll(error: unknown): void {
    const q = this.queue
    this.queue = []
    for (const p of q) p.reject(error)
  }

  private async run(): Promise<void> {
    this.running = true
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.deps.maxBatchEvents)
        await this.write(batch)
      }
    } finally {
      this.running = false
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    const started = performance.now()
    try {
      const topic = this.topic()
      // a dedupe key seen twice in one batch: the first one is written, the rest share its receipt
      const firstByKey = new Map<string, Pending>()
      const followers = new Map<Pending, Pending[]>()
      let toWrite: Pending[] = []
      for (const p of batch) {
        const k = p.event.dedupeKey
        const first = k === null ? undefined : firstByKey.get(k)
        if (first) followers.get(first)?.push(p) ?? followers.set(first, [p])
        else {
          if (k !== null) firstByKey.set(k, p)
          toWrite.push(p)
        }
      }
      const duplicates: Pending[] = []
      for (let attempt = 0; toWrite.length > 0; attempt++) {
        const nowMs = Math.max(Date.now(), this.lastTimeMs)
        await this.deps.segments.ensure(topic.id, topic.segmentMs, nowMs)
        const time = new Date(nowMs)
        try {
          const base = await writeBatch(this.deps.sql, {
            topicId: topic.id,
            partition: this.partition,
            time,
            events: toWrite.map((p) => p.event),
            dedupeCutoff: new Date(nowMs - topic.dedupeWindowMs),
            notifyChannel: this.deps.notifyChannel,
            notifyPayload: (next) => this.deps.notifyPayload(topic.id, this.partition, next),
          })
          this.lastTimeMs = nowMs
          const stored = toWrite.map((p, i) => ({
            ...p.event,
            partition: this.partition,
            offset: base + i,
            time,
          }))
          this.deps.onCommitted(topic.id, this.partition, base, stored)
          toWrite.forEach((p, i) => {
            const receipt = { id: p.event.id, partition: this.partition, offset: base + i, duplicate: false }
            p.resolve(receipt)
            for (const f of followers.get(p) ?? []) f.resolve({ ...receipt, duplicate: true })
          })
          toWrite = []
        } catch (e) {
          if (e instanceof DedupeConflict) {
            duplicates.push(...toWrite.filter((p) => e.keys.has(p.event.dedupeKey ?? '')))
            toWrite = toWrite.filter((p) => !e.keys.has(p.event.dedupeKey ?? ''))
          } else if (RETRYABLE_PG.has((e as { code?: string }).code ?? '') && attempt < 5) {
            // deadlock or serialization failure: the transaction rolled back, so a retry is safe
          } else throw e
        }
      }
      if (duplicates.length > 0) await this.answerDuplicates(topic.id, duplicates, followers)
      this.deps.onBatch(batch.length, (performance.now() - started) / 1000)
    } catch (e) {
      for (const p of batch) p.reject(e)
    }
  }

  private async answerDuplicates(topicId: number, dups: Pending[], followers: Map<Pending, Pending[]>) {
    const originals = await dedupeReceipts(
      this.deps.sql,
      topicId,
      dups.map((p) => p.event.dedupeKey!),
    )
    for (const p of dups) {
      const o = originals.get(p.event.dedupeKey!)
      // the original expired between the conflict and this read: extremely rare, report it as retryable
      if (!o) {
        const err = Object.assign(new Error('dedupe record vanished; retry'), { code: '40001' })
        p.reject(err)
        for (const f of followers.get(p) ?? []) f.reject(err)
        continue
      }
      const receipt = { id: o.id, partition: o.partition, offset: o.offset, duplicate: true }
      p.resolve(receipt)
      for (const f of followers.get(p) ?? []) f.resolve(receipt)
    }
  }
}
