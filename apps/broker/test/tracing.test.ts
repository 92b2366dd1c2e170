import { context, trace } from '@opentelemetry/api'
import { AsyncHooksContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, startBroker } from './helpers'
import { SseClient } from './sse'

const exporter = new InMemorySpanExporter()
let broker: Broker

beforeAll(async () => {
  // what an operator's OpenTelemetry SDK set-up does; the broker only uses the API
  context.setGlobalContextManager(new AsyncHooksContextManager().enable())
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  )
  broker = await startBroker()
})
afterAll(async () => {
  await broker.stop()
  trace.disable()
  context.disable()
})

describe('traces', () => {
  it('puts a publish and its deliveries in one trace, continuing the publisher’s traceparent', async () => {
    await createTopic(broker.url, 'game.traced')
    await api(broker.url, 'POST', '/v1/subscriptions', {
      name: 'tracer',
      topic: 'game.traced',
      mode: 'queue',
      from: 'earliest',
    })
    const sse = new SseClient(`${broker.url}/v1/topics/game.traced/stream?from=earliest`)
    const clientTrace = '4bf92f3577b34da6a3ce929d0e0e4736'
    const res = await api(broker.url, 'POST', '/v1/topics/game.traced/events', {
      data: { kill: 1 },
      headers: { traceparent: `00-${clientTrace}-00f067aa0ba902b7-01` },
    })
    expect(res.status).toBe(201)
    await api(broker.url, 'POST', '/v1/subscriptions/tracer/pull', { member: 'm', max: 10 })
    await sse.waitFor(1)
    sse.close()

    const spans = exporter.getFinishedSpans()
    const publish = spans.find((s) => s.name === 'publish game.traced')!
    const deliveries = spans.filter((s) => s.name === 'deliver game.traced')
    expect(publish.spanContext().traceId).toBe(clientTrace)
    expect(publish.attributes['messaging.message.offset']).toBe('0')
    expect(deliveries.length).toBe(2) // the pull and the SSE stream
    for (const d of deliveries) {
      expect(d.spanContext().traceId).toBe(clientTrace)
      expect(d.parentSpanContext?.spanId).toBe(publish.spanContext().spanId)
    }
    // consumers see the traceparent of the publish span, so their own spans join the trace
    expect(sse.events()[0].headers.traceparent).toBe(`00-${clientTrace}-${publish.spanContext().spanId}-01`)
  })

  it('starts a new trace when the publisher sent none', async () => {
    exporter.reset()
    await api(broker.url, 'POST', '/v1/topics/game.traced/events', { data: { kill: 2 } })
    const pulled = await api(broker.url, 'POST', '/v1/subscriptions/tracer/pull', { member: 'm', max: 10 })
    const publish = exporter.getFinishedSpans().find((s) => s.name === 'publish game.traced')!
    const deliver = exporter.getFinishedSpans().find((s) => s.name === 'deliver game.traced')!
    expect(publish.parentSpanContext).toBeUndefined()
    expect(deliver.spanContext().traceId).toBe(publish.spanContext().traceId)
    expect(pulled.body.deliveries[0].event.headers.traceparent).toContain(publish.spanContext().traceId)
  })
})

describe('request ids', () => {
  it('answers with the caller’s x-request-id, or a fresh one', async () => {
    const given = await api(broker.url, 'GET', '/v1/topics', undefined, { 'x-request-id': 'match-42-req-7' })
    expect(given.headers.get('x-request-id')).toBe('match-42-req-7')
    const fresh = await api(broker.url, 'GET', '/v1/nope')
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })
})
