import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, sleep, startBroker } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker({ statsIntervalMs: 100 })
})
afterAll(() => broker.stop())

interface Family {
  name: string
  type: string
  metrics: Array<{
    labels?: Record<string, string>
    value?: string
    count?: string
    buckets?: Record<string, string>
  }>
}

async function scrape(): Promise<Map<string, Family>> {
  const res = await fetch(`${broker.url}/metrics`)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
  // a real exposition-format parser: it throws on malformed output
  const families = parsePrometheusTextFormat(await res.text()) as Family[]
  return new Map(families.map((f) => [f.name, f]))
}

const value = (f: Family | undefined, labels: Record<string, string>) =>
  Number(f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value)

describe('/metrics', () => {
  it('parses as Prometheus text and counts traffic, lag, pending and deliveries', async () => {
    await createTopic(broker.url, 'game.metered', { partitions: 2 })
    await api(broker.url, 'POST', '/v1/subscriptions', {
      name: 'meter',
      topic: 'game.metered',
      mode: 'queue',
      from: 'earliest',
    })
    await api(broker.url, 'POST', '/v1/topics/game.metered/events', {
      events: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, data: i })),
    })
    await sleep(400)
    let m = await scrape()
    expect(value(m.get('questlog_events_in_total'), { topic: 'game.metered' })).toBe(10)
    expect(value(m.get('questlog_subscription_lag_events'), { subscription: 'meter' })).toBe(10)
    expect(value(m.get('questlog_subscription_lag_seconds'), { subscription: 'meter' })).toBeGreaterThan(0)

    const pulled = await api(broker.url, 'POST', '/v1/subscriptions/meter/pull', { member: 'w', max: 4 })
    await api(broker.url, 'POST', '/v1/subscriptions/meter/ack', {
      tokens: pulled.body.deliveries.slice(0, 2).map((d: any) => d.token),
    })
    await sleep(400)
    m = await scrape()
    expect(value(m.get('questlog_events_delivered_total'), { subscription: 'meter' })).toBe(4)
    expect(value(m.get('questlog_subscription_pending'), { subscription: 'meter' })).toBe(2)
    expect(value(m.get('questlog_subscription_lag_events'), { subscription: 'meter' })).toBe(8)
    const latency = m.get('questlog_delivery_latency_seconds')
    expect(latency?.type).toBe('HISTOGRAM')
    expect(Number(latency?.metrics[0]?.count)).toBe(4)
    expect(m.get('questlog_publish_latency_seconds')?.type).toBe('HISTOGRAM')
    expect(m.get('questlog_process_resident_memory_bytes')).toBeDefined()

    await api(broker.url, 'DELETE', '/v1/subscriptions/meter')
    await sleep(400)
    m = await scrape()
    expect(
      m.get('questlog_subscription_lag_events')?.metrics.find((x) => x.labels?.subscription === 'meter'),
    ).toBeUndefined()
  })
})
