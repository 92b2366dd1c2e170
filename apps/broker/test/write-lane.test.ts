import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { api, createTopic, freshDatabase, startBroker } from './helpers'

/**
 * A write connection that says nothing: its server process is stopped
 * (SIGSTOP) while idle, so what the broker sends on it is never answered,
 * as after a network fault or a client wedged by a restart.
 */
describe('a write connection that stops answering', () => {
  let broker: Broker
  let admin: postgres.Sql
  const stopped: number[] = []

  beforeAll(async () => {
    const databaseUrl = await freshDatabase()
    broker = await startBroker({ databaseUrl, dbDeadlineMs: 1000 })
    admin = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  })
  afterAll(async () => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT')
      } catch {}
    }
    await broker?.stop()
    await admin?.end()
  })

  it('fails what it held with a retryable unavailable error, reports degraded, and the next publish is stored once', async () => {
    await createTopic(broker.url, 'lane.stall', { partitions: 1 })
    const first = await api(broker.url, 'POST', '/v1/topics/lane.stall/events', { data: { n: 0 } })
    expect(first.status).toBe(201)
    const lanes = await admin<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity
      WHERE datname = current_database() AND application_name LIKE 'questlog-lane-%'`
    expect(lanes.length).toBeGreaterThan(0)
    for (const { pid } of lanes) {
      process.kill(pid, 'SIGSTOP')
      stopped.push(pid)
    }

    const t0 = performance.now()
    const publish = api(broker.url, 'POST', '/v1/topics/lane.stall/events', {
      data: { n: 1 },
      dedupeKey: 'n1',
    })
    // while it waits, the broker says so
    await new Promise((r) => setTimeout(r, 2300))
    const health = await api(broker.url, 'GET', '/health')
    expect(health.body.status).toBe('degraded')
    expect(health.body.write_stalled_ms).toBeGreaterThanOrEqual(2000)

    const failed = await publish
    expect(failed.status).toBe(503)
    expect(failed.body.error.code).toBe('unavailable')
    // the deadline (1 s) plus the grace (2 s), checked about every 250 ms
    expect(performance.now() - t0).toBeLessThan(6000)

    // the old server processes are terminated for good, then let run so they can exit
    await admin`SELECT pg_terminate_backend(pid) FROM unnest(${stopped}::int[]) AS pid`
    for (const pid of stopped.splice(0)) process.kill(pid, 'SIGCONT')

    const again = await api(broker.url, 'POST', '/v1/topics/lane.stall/events', {
      data: { n: 1 },
      dedupeKey: 'n1',
    })
    expect(again.status).toBe(201)
    const page = await api(broker.url, 'GET', '/v1/topics/lane.stall/events?partition=0&from=0&limit=10')
    expect(page.body.events.map((e: { data: { n: number } }) => e.data.n)).toEqual([0, 1])
    expect((await api(broker.url, 'GET', '/health')).body.status).toBe('ok')
    const metrics = await fetch(`${broker.url}/metrics`).then((r) => r.text())
    expect(metrics).toMatch(/questlog_write_connection_replacements_total [1-9]/)
  }, 30_000)
})
