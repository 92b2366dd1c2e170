import { createClient, type TableChange } from '@questlog/sdk-node'
import { describe, expect, it } from 'vitest'
import { ADMIN, brokerProcesses, CLUSTER_ADMIN_KEY, waitFor } from './broker-processes'
import { api, sleep } from './helpers'

const procs = brokerProcesses()
const COMPACTING = { QUESTLOG_COMPACTION_INTERVAL_MS: '300', QUESTLOG_COMPACTION_MIN_DIRTY_RATIO: '0' }

type Profile = { key: string; v: number }

describe('bus.table() over a compacted topic', () => {
  it('shows the log’s state after its snapshot, through compaction and a broker killed and started again, with every change in order', async () => {
    const { databaseUrl, brokers } = await procs.cluster(1, COMPACTING)
    let broker = brokers[0]!
    const created = await api(
      broker.url,
      'POST',
      '/v1/topics',
      {
        name: 'players.profiles',
        cleanup: 'compact',
        partitions: 4,
        segmentMs: 1000,
        deleteRetentionMs: 1000,
      },
      ADMIN,
    )
    expect(created.status).toBe(201)
    const expected = new Map<string, Profile>()
    let v = 0
    let following = false
    const afterSnapshot: number[] = []
    /** Publishes a round over `keys` keys; every 7th key of the round is tombstoned when `tombstones`. */
    const round = async (keys: number, tombstones: boolean) => {
      const events = Array.from({ length: keys }, (_, k) => {
        const key = `player-${k}`
        const remove = tombstones && k % 7 === 0 && expected.has(key)
        const data = remove ? null : { key, v: ++v }
        if (data && following) afterSnapshot.push(data.v)
        if (data) expected.set(key, data)
        else expected.delete(key)
        return { key, data }
      })
      const res = await api(broker.url, 'POST', '/v1/topics/players.profiles/events', { events }, ADMIN)
      expect(res.status).toBe(201)
      return events.length
    }
    for (let r = 0; r < 10; r++) await round(200, r === 5)
    // sealed segments, compacted: the snapshot reads across the gaps compaction leaves
    await sleep(7000)
    await waitFor('a compacted segment', 30_000, async () => {
      const info = await api(broker.url, 'GET', '/v1/topics/players.profiles', undefined, ADMIN)
      const stored = info.body.events as number
      return stored < 2000 ? true : undefined
    })

    const bus = createClient({ brokers: [broker.url], token: CLUSTER_ADMIN_KEY })
    const table = bus.table<Profile>('players.profiles', { pageSize: 37 })
    await table.ready
    expect(new Map(table)).toEqual(expected)
    const changes: TableChange<Profile>[] = []
    table.on('change', (c) => changes.push(c))
    following = true

    let sent = 0
    sent += await round(200, false)
    await waitFor('the table following', 30_000, async () => (changes.length === sent ? true : undefined))

    // the broker dies without a word and starts again where it was
    await broker.kill()
    broker = await procs.start(databaseUrl, { ...COMPACTING, PORT: String(broker.port) })
    for (let r = 0; r < 3; r++) sent += await round(150, r === 1)
    await waitFor('the table after the restart', 60_000, async () =>
      changes.length >= sent ? true : undefined,
    )
    await sleep(500)
    // every event after the snapshot came as one change, once, none lost across the restart
    expect(changes.length).toBe(sent)
    expect(new Map(table)).toEqual(expected)
    const seenV = changes.flatMap((c) => (c.type === 'set' ? [c.value.v] : []))
    expect(new Set(seenV).size).toBe(seenV.length)
    expect(seenV.length).toBe(afterSnapshot.length)
    expect([...seenV].sort((x, y) => x - y)).toEqual(afterSnapshot)
    // per key in order
    const lastV = new Map<string, number>()
    for (const c of changes) {
      if (c.type !== 'set') continue
      expect(c.value.v).toBeGreaterThan(lastV.get(c.key) ?? 0)
      lastV.set(c.key, c.value.v)
    }
    // a second table, started from a fresh snapshot, agrees with the first
    const again = bus.table<Profile>('players.profiles')
    await again.ready
    expect(new Map(again)).toEqual(new Map(table))
    again.close()
    table.close()
    await bus.close()
  }, 180_000)
})
