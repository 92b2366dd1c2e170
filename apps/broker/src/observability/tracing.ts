import { context, type Span, type SpanContext, SpanKind, trace } from '@opentelemetry/api'

/**
 * OpenTelemetry spans for publishes and deliveries, through the OpenTelemetry
 * API: with no tracer provider registered (the default) they cost next to
 * nothing. The W3C `traceparent` travels in each event's headers, so a
 * publish and every delivery of that event share one trace.
 */
const tracer = trace.getTracer('questlog-broker')

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  const m = value ? TRACEPARENT.exec(value) : null
  if (!m) return undefined
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true }
}

export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags.toString(16).padStart(2, '0')}`
}

const parseHeaders = (json: string | null) => (json ? (JSON.parse(json) as Record<string, string>) : {})

/** The context of the publisher's traceparent; most events carry none, and their headers are not parsed. */
function parentContext(headersJson: string | null) {
  if (!headersJson?.includes('traceparent')) return context.active()
  const sc = parseTraceparent(parseHeaders(headersJson).traceparent)
  return sc ? trace.setSpanContext(context.active(), sc) : context.active()
}

export interface PublishTrace {
  /** The headers to store: the event's, with `traceparent` pointing at the publish span. */
  headersJson: string | null
  end(result: { partition: number; offset: string } | Error): void
}

/** Starts the publish span of one event (a child of the publisher's traceparent, if it sent one). */
export function tracePublish(topic: string, headersJson: string | null): PublishTrace {
  const ctx = parentContext(headersJson)
  const span: Span = tracer.startSpan(
    `publish ${topic}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'questlog', 'messaging.destination.name': topic },
    },
    ctx,
  )
  const sc = span.spanContext()
  const recording = span.isRecording()
  return {
    headersJson: recording
      ? JSON.stringify({ ...parseHeaders(headersJson), traceparent: formatTraceparent(sc) })
      : headersJson,
    end(result) {
      if (!recording) return
      if (result instanceof Error) span.recordException(result)
      else
        span.setAttributes({
          'messaging.destination.partition.id': String(result.partition),
          'messaging.message.offset': result.offset,
        })
      span.end()
    },
  }
}

/** Records one hand-out of an event to a consumer, in the event's trace. */
export function traceDelivery(
  topic: string,
  headersJson: string | null,
  attributes: Record<string, string | number>,
): void {
  if (!headersJson?.includes('traceparent')) return
  const ctx = parentContext(headersJson)
  if (!trace.getSpanContext(ctx)) return
  tracer
    .startSpan(
      `deliver ${topic}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: { 'messaging.system': 'questlog', 'messaging.destination.name': topic, ...attributes },
      },
      ctx,
    )
    .end()
}
