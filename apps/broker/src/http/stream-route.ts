import { once } from 'node:events'
import { streamQuerySchema, ValidationError } from '@questlog/protocol'
import type { FastifyInstance } from 'fastify'
import { requireTopic } from '../auth/principal'
import { traceDelivery } from '../observability/tracing'
import { parse } from '../parse'
import { decodeCursor } from '../read/cursor'
import { envelopeJson } from '../read/envelope-json'
import { resolvePositions } from '../read/reader'
import { TopicTail } from '../read/topic-tail'
import type { Services } from '../services'
import { type TopicParams, topicName } from './topics-routes'

const HEARTBEAT_MS = 15_000

/** Server-Sent Events: every `id:` is a cursor over all partitions read, so a reconnect resumes exactly. */
export function streamRoute(app: FastifyInstance, s: Services): void {
  // hijacked responses outlive app.close(): end them so clients reconnect at once
  const open = new Set<TopicTail>()
  app.addHook('preClose', async () => {
    for (const tail of open) tail.stop()
  })
  app.get<{ Params: TopicParams }>('/v1/topics/:topic/stream', async (req, reply) => {
    const name = topicName(req.params)
    requireTopic(req.principal, 'subscribe', name)
    const q = parse(streamQuerySchema, req.query)
    const topic = await s.topics.get(name)
    const header = req.headers['last-event-id']
    const resume = (Array.isArray(header) ? header[0] : header) || q.lastEventId
    let positions: Map<number, number>
    if (resume) {
      positions = decodeCursor(resume, topic.id, header ? 'Last-Event-ID' : 'lastEventId').positions
      for (const p of positions.keys()) {
        if (p >= topic.partitions)
          throw new ValidationError([{ path: 'Last-Event-ID', message: 'unknown partition' }])
      }
    } else {
      positions = await resolvePositions(s.sql, topic, { partition: q.partition, from: q.from }, 'latest')
    }

    // the key's streams are counted across the cluster; a refusal is still a plain 429 here
    const release = await s.quotas.hold(req.principal, 'streams')
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      // what the CORS hook decided for this origin; a hijacked reply sends nothing of its own
      ...corsHeaders(reply.getHeaders()),
    })
    res.write('retry: 1000\n\n')
    s.metrics.streams.inc()
    const tail = new TopicTail({
      sql: s.sql,
      fanout: s.fanout,
      topicId: topic.id,
      positions,
      key: q.key,
      type: q.type,
      pageBytes: s.config.maxReadBytes,
      sink: {
        send: (e, cursor) => {
          s.metrics.eventsOut.inc({ topic: name })
          traceDelivery(name, e.headersJson, { 'questlog.transport': 'sse' })
          return res.write(`id: ${cursor}\ndata: ${envelopeJson(name, e)}\n\n`)
        },
        drained: async () => {
          // the buffer may have drained before anyone waited for it
          if (!res.writableNeedDrain) return
          const ac = new AbortController()
          const timer = setTimeout(() => ac.abort(), s.config.slowConsumerMs)
          try {
            await once(res, 'drain', { signal: ac.signal })
          } catch {
            // a reader that takes nothing would pin memory: tell it, then let it go
            s.metrics.rejected.inc({ reason: 'slow_consumer' })
            req.log.warn({ topic: name }, 'SSE reader too slow; disconnecting it')
            res.write(
              `event: error\ndata: {"code":"slow_consumer","message":"this reader took nothing for ${s.config.slowConsumerMs} ms; reconnect with Last-Event-ID to resume"}\n\n`,
            )
            setTimeout(() => res.destroy(), 1000).unref()
            throw new Error('slow consumer')
          } finally {
            clearTimeout(timer)
          }
        },
      },
      onClose: () => {
        clearInterval(heartbeat)
        s.metrics.streams.dec()
        res.end()
      },
    })
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS)
    heartbeat.unref()
    // the stream lives no longer than the right it was opened with (a revoked key, an expired token)
    const unwatch = s.keys.sessions.watch(req.principal, (e) => {
      res.write(`event: error\ndata: ${JSON.stringify({ code: e.code, message: e.message })}\n\n`)
      tail.stop()
      setTimeout(() => res.destroy(), 1000).unref()
    })
    open.add(tail)
    res.on('close', () => {
      release()
      unwatch()
      open.delete(tail)
      tail.stop()
    })
    try {
      await tail.start()
    } catch (e) {
      req.log.error({ err: e }, 'stream failed to start')
      tail.stop()
    }
  })
}

function corsHeaders(set: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(set)) {
    if (name.startsWith('access-control-') || name === 'vary') out[name] = String(value)
  }
  return out
}
