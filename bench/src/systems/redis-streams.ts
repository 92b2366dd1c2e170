import { Redis } from 'ioredis'
import { eventJson, sentAtOf } from '../payload'
import type { CatchUpTarget, LatencyTarget, OpenedTarget, ThroughputCase, ThroughputTarget } from './types'

let seq = 0
// command errors still reject their promises; the event only repeats them (and reconnect noise on shutdown)
const connectTo = (port: number) => new Redis({ host: '127.0.0.1', port }).on('error', () => {})

/** Redis Streams: one stream key per partition, `XADD` pipelined `batch` deep per producer connection. */
export function redisStreams(port: () => number, durability: string, name: string): ThroughputTarget {
  return {
    name,
    durability,
    async open(c: ThroughputCase): Promise<OpenedTarget> {
      const prefix = `bench:${process.pid}:${++seq}`
      const keys = Array.from({ length: c.partitions }, (_, p) => `${prefix}:${p}`)
      const conns = Array.from({ length: c.producers }, () => connectTo(port()))
      const producers = conns.map((r, i) => {
        const key = keys[i % c.partitions]!
        const payloads = Array.from({ length: c.batch }, (_, j) => eventJson(c.eventBytes, j))
        return async () => {
          const p = r.pipeline()
          for (const d of payloads) p.xadd(key, '*', 'd', d)
          const results = await p.exec()
          for (const [err] of results ?? []) if (err) throw err
          return c.batch
        }
      })
      return {
        producers,
        async close() {
          await conns[0]!.del(...keys)
          await quiet(conns[0]!)
          await Promise.all(conns.map((r) => r.quit()))
        },
      }
    },
  }
}

/**
 * Waits until Redis has no AOF rewrite or snapshot running or scheduled. A
 * throughput cell grows the AOF past the size that triggers a rewrite (a fork
 * that writes the whole dataset out), which would otherwise run on into the
 * next system's cell on the same cores.
 */
async function quiet(r: Redis): Promise<void> {
  // the server notices the AOF's size on its next cron tick (every 100 ms)
  await new Promise((resolve) => setTimeout(resolve, 250))
  for (let i = 0; i < 600; i++) {
    const info = await r.info('persistence')
    if (
      info.includes('aof_rewrite_in_progress:0') &&
      info.includes('aof_rewrite_scheduled:0') &&
      info.includes('rdb_bgsave_in_progress:0')
    )
      return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Publishes with pipelined XADD and consumes with a blocking XREAD on its own connection. */
export function redisLatency(port: () => number, durability: string, name: string): LatencyTarget {
  return {
    name,
    durability,
    spec: () => ({ system: 'redis', port: port(), durability, name }),
    async openLive(_eventBytes, onReceive) {
      const key = `bench:${process.pid}:live:${++seq}`
      const pub = connectTo(port())
      const sub = connectTo(port())
      let open = true
      let last = '$'
      const loop = (async () => {
        while (open) {
          const res = (await sub.xread('COUNT', 1000, 'BLOCK', 200, 'STREAMS', key, last)) as Array<
            [string, Array<[string, string[]]>]
          > | null
          for (const [, entries] of res ?? []) {
            for (const [id, fields] of entries) {
              last = id
              onReceive(sentAtOf(fields[1] ?? ''))
            }
          }
        }
      })()
      await new Promise((r) => setTimeout(r, 50)) // the first XREAD is blocking before anything is sent
      return {
        async publish(events) {
          const p = pub.pipeline()
          for (const e of events) p.xadd(key, '*', 'd', e)
          await p.exec()
        },
        async close() {
          open = false
          await loop.catch(() => {})
          await pub.del(key)
          await Promise.all([pub.quit(), sub.quit()])
        },
      }
    },
  }
}

/** Stores events in one stream, then pages through it with XRANGE. */
export function redisCatchUp(port: () => number, name: string): CatchUpTarget {
  return {
    name,
    async fill(count, eventBytes) {
      const key = `bench:${process.pid}:catchup:${++seq}`
      const r = connectTo(port())
      const payload = eventJson(eventBytes, 0)
      for (let sent = 0; sent < count; sent += 1000) {
        const p = r.pipeline()
        for (let i = 0; i < Math.min(1000, count - sent); i++) p.xadd(key, '*', 'd', payload)
        await p.exec()
      }
      return {
        async readAll() {
          let got = 0
          let from = '-'
          for (;;) {
            const page = await r.xrange(key, from, '+', 'COUNT', 1000)
            if (page.length === 0) break
            got += page.length
            from = `(${page[page.length - 1]![0]}`
          }
          return got
        },
        async close() {
          await r.del(key)
          await r.quit()
        },
      }
    },
  }
}
