import { createClient } from '@questlog/sdk-node'
import { Redis } from 'ioredis'
import { connect } from 'nats'
import { BENCH_ADMIN_KEY } from '../auth'
import { eventJson } from '../payload'

/** One round trip: sends a request and resolves with the reply. */
export type RoundTrip = () => Promise<void>

/** One responder that echoes the request, and `requesters` clients, one connection each. */
export interface RequestReplyTarget {
  name: string
  /** What carries a request and its reply. */
  via: string
  open(requesters: number): Promise<{ requesters: RoundTrip[]; close(): Promise<void> }>
}

let seq = 0
const TIMEOUT_MS = 5000

/** Questlog SDK over WebSocket: `respond(subject, handler)` on one client, `request()` on the others. */
export function questlogSdkRequestReply(url: () => string): RequestReplyTarget {
  return {
    name: 'Questlog SDK',
    via: 'WebSocket, routed by the broker (not stored)',
    async open(n) {
      const subject = `bench.rr.${process.pid}.${++seq}`
      const responder = createClient({ brokers: [url()], token: BENCH_ADMIN_KEY })
      await responder.respond<unknown, unknown>(subject, async (data) => data)
      const clients = Array.from({ length: n }, () =>
        createClient({ brokers: [url()], token: BENCH_ADMIN_KEY }),
      )
      const data = JSON.parse(eventJson(200, 0)) as unknown
      return {
        requesters: clients.map((c) => async () => {
          await c.request(subject, data, { timeoutMs: TIMEOUT_MS })
        }),
        async close() {
          await Promise.all([...clients, responder].map((c) => c.close()))
        },
      }
    },
  }
}

/** NATS core request/reply: a subscription that answers with `m.respond()`, `nc.request()` per round trip. */
export function natsRequestReply(port: () => number, name: string): RequestReplyTarget {
  return {
    name,
    via: 'core NATS `nc.request()` / `m.respond()` (not stored)',
    async open(n) {
      const subject = `bench.rr.${process.pid}.${++seq}`
      const responder = await connect({ servers: `127.0.0.1:${port()}` })
      responder.subscribe(subject, { callback: (_err, m) => m.respond(m.data) })
      await responder.flush()
      const conns = await Promise.all(
        Array.from({ length: n }, () => connect({ servers: `127.0.0.1:${port()}` })),
      )
      const payload = new TextEncoder().encode(eventJson(200, 0))
      return {
        requesters: conns.map((nc) => async () => {
          await nc.request(subject, payload, { timeout: TIMEOUT_MS })
        }),
        async close() {
          await Promise.all(conns.map((c) => c.close()))
          await responder.close()
        },
      }
    },
  }
}

/**
 * Redis lists: each requester pipelines `RPUSH requests "<reply key>|<payload>"`
 * and `BLPOP <reply key>`; the responder loops `BLPOP requests`, then `RPUSH`es
 * the payload to the reply key.
 */
export function redisRequestReply(port: () => number, name: string): RequestReplyTarget {
  return {
    name,
    via: 'lists, RPUSH + BLPOP each way',
    async open(n) {
      const prefix = `bench:${process.pid}:rr:${++seq}`
      const requests = `${prefix}:requests`
      const connectTo = () => new Redis({ host: '127.0.0.1', port: port() }).on('error', () => {})
      const responder = connectTo()
      let open = true
      const loop = (async () => {
        while (open) {
          const got = await responder.blpop(requests, 0.2)
          if (!got) continue
          const bar = got[1].indexOf('|')
          await responder.rpush(got[1].slice(0, bar), got[1].slice(bar + 1))
        }
      })()
      const conns = Array.from({ length: n }, () => connectTo())
      const payload = eventJson(200, 0)
      return {
        requesters: conns.map((r, i) => {
          const replyKey = `${prefix}:reply:${i}`
          return async () => {
            const res = await r
              .pipeline()
              .rpush(requests, `${replyKey}|${payload}`)
              .blpop(replyKey, TIMEOUT_MS / 1000)
              .exec()
            const reply = res?.[1]
            if (!reply || reply[0] || !reply[1]) throw new Error('redis request/reply: no reply in time')
          }
        }),
        async close() {
          open = false
          await loop.catch(() => {})
          await responder.del(requests, ...conns.map((_, i) => `${prefix}:reply:${i}`))
          await Promise.all([responder.quit(), ...conns.map((r) => r.quit())])
        },
      }
    },
  }
}
