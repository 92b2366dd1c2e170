import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/**
 * The broker's Prometheus metrics, in registries of its own (several brokers may share a process
 * in tests): `registry` holds process and broker-wide series, `tenantRegistry` those labelled with
 * topic or subscription names, which only a scraper with the metrics token or an admin key sees.
 */
export function createMetrics() {
  const registry = new Registry()
  const tenantRegistry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'questlog_' })
  const eventsIn = new Counter({
    name: 'questlog_events_in_total',
    help: 'Events stored, by topic',
    labelNames: ['topic'],
    registers: [tenantRegistry],
  })
  const bytesIn = new Counter({
    name: 'questlog_bytes_in_total',
    help: 'Payload bytes stored, by topic',
    labelNames: ['topic'],
    registers: [tenantRegistry],
  })
  const eventsOut = new Counter({
    name: 'questlog_events_out_total',
    help: 'Events sent to readers and streams, by topic',
    labelNames: ['topic'],
    registers: [tenantRegistry],
  })
  const publishLatency = new Histogram({
    name: 'questlog_publish_latency_seconds',
    help: 'Time from a publish request being accepted to its COMMIT',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  const batchSize = new Histogram({
    name: 'questlog_commit_batch_events',
    help: 'Events written per group-commit transaction',
    buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 2000, 5000, 10000],
    registers: [registry],
  })
  const laneReplacements = new Counter({
    name: 'questlog_write_connection_replacements_total',
    help: 'Write connections replaced because they stalled or reached a read-only server',
    registers: [registry],
  })
  const dbLatency = new Gauge({
    name: 'questlog_db_latency_seconds',
    help: 'Round trip of the last database probe',
    registers: [registry],
  })
  const rejected = new Counter({
    name: 'questlog_rejected_requests_total',
    help: 'Requests refused, by reason (error code)',
    labelNames: ['reason'],
    registers: [registry],
  })
  const streams = new Gauge({
    name: 'questlog_open_streams',
    help: 'Open SSE streams',
    registers: [registry],
  })
  const segmentsDropped = new Counter({
    name: 'questlog_segments_dropped_total',
    help: 'Log segments dropped by retention',
    labelNames: ['reason'],
    registers: [registry],
  })
  const subscriptionLag = new Gauge({
    name: 'questlog_subscription_lag_events',
    help: 'Events a subscription has not yet consumed (queue mode: including those handed out and not acked)',
    labelNames: ['subscription'],
    registers: [tenantRegistry],
  })
  const subscriptionLagSeconds = new Gauge({
    name: 'questlog_subscription_lag_seconds',
    help: 'Age of the oldest event a subscription has not yet consumed',
    labelNames: ['subscription'],
    registers: [tenantRegistry],
  })
  const subscriptionPending = new Gauge({
    name: 'questlog_subscription_pending',
    help: 'Queue-mode deliveries waiting for an ack or a redelivery',
    labelNames: ['subscription'],
    registers: [tenantRegistry],
  })
  const subscriptionRedelivered = new Gauge({
    name: 'questlog_subscription_redelivered',
    help: 'Pending deliveries that were delivered more than once',
    labelNames: ['subscription'],
    registers: [tenantRegistry],
  })
  const subscriptionDeadLetters = new Gauge({
    name: 'questlog_subscription_dead_letters',
    help: 'Dead letters not yet redriven',
    labelNames: ['subscription'],
    registers: [tenantRegistry],
  })
  const delivered = new Counter({
    name: 'questlog_events_delivered_total',
    help: 'Events handed to consumers of a subscription (pulls and webhooks), redeliveries included',
    labelNames: ['subscription'],
    registers: [tenantRegistry],
  })
  const deliveryLatency = new Histogram({
    name: 'questlog_delivery_latency_seconds',
    help: 'From commit to first hand-out to a consumer (end-to-end delivery latency)',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300],
    registers: [registry],
  })
  return {
    registry,
    tenantRegistry,
    /** The exposition text: with `full`, the tenant series too. */
    async exposition(full: boolean): Promise<string> {
      return full ? Registry.merge([registry, tenantRegistry]).metrics() : registry.metrics()
    },
    subscriptionLag,
    subscriptionLagSeconds,
    subscriptionPending,
    subscriptionRedelivered,
    subscriptionDeadLetters,
    delivered,
    deliveryLatency,
    eventsIn,
    bytesIn,
    eventsOut,
    publishLatency,
    batchSize,
    dbLatency,
    laneReplacements,
    rejected,
    streams,
    segmentsDropped,
  }
}

export type Metrics = ReturnType<typeof createMetrics>
