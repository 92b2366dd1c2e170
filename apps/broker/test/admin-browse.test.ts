import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Broker } from '../src/broker'
import { SCAN_WINDOW } from '../src/read/newest-reader'
import { api, createTopic, startBroker, trpcCall } from './helpers'

let broker: Broker
beforeAll(async () => {
  broker = await startBroker()
})
afterAll(() => broker.stop())

interface Page {
  events: Array<{ partition: number; offset: string; key: string | null; data: any }>
  before: Array<{ partition: number; offset: number }>
  done: boolean
  latest: Array<{ partition: number; offset: number }>
}

async function newest(topic: string, query: Record<string, unknown>): Promise<Page> {
  const res = await trpcCall(broker.url, 'query', 'events.newest', { topic, query })
  if (res.status !== 200) throw new Error(`events.newest: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.result.data
}

async function publish(topic: string, data: (i: number) => unknown, n: number, from = 0) {
  for (let start = 0; start < n; start += 1000) {
    const events = Array.from({ length: Math.min(1000, n - start) }, (_, j) => ({
      key: `k${(from + start + j) % 7}`,
      data: data(from + start + j),
    }))
    const res = await api(broker.url, 'POST', `/v1/topics/${topic}/events`, { events })
    expect(res.status).toBe(201)
  }
}

describe('newest first, searched by the broker', () => {
  it('starts at the newest event and pages back over every partition, each event once', async () => {
    await createTopic(broker.url, 'browse.one')
    await publish('browse.one', (i) => ({ i }), 120)
    const first = await newest('browse.one', { limit: 10 })
    expect(first.events.map((e) => Number(e.offset))).toEqual([
      119, 118, 117, 116, 115, 114, 113, 112, 111, 110,
    ])
    expect(first.latest).toEqual([{ partition: 0, offset: 120 }])
    const second = await newest('browse.one', { limit: 10, before: first.before })
    expect(second.events.map((e) => Number(e.offset))[0]).toBe(109)

    await createTopic(broker.url, 'browse.three', { partitions: 3 })
    await publish('browse.three', (i) => ({ i }), 300)
    const seen = new Set<string>()
    let page = await newest('browse.three', { limit: 37 })
    for (let n = 0; n < 20; n++) {
      for (const e of page.events) {
        const id = `${e.partition}:${e.offset}`
        expect(seen.has(id)).toBe(false)
        seen.add(id)
      }
      if (page.done) break
      page = await newest('browse.three', { limit: 37, before: page.before })
    }
    expect(page.done).toBe(true)
    expect(seen.size).toBe(300)
  })

  it('finds a payload value across partitions, without reading past a window a page', async () => {
    await createTopic(broker.url, 'browse.search', { partitions: 2 })
    await publish(
      'browse.search',
      (i) => ({ i, player: `p${i % 50}`, note: i % 50 === 7 ? 'gold-drop' : 'x' }),
      400,
    )
    const text = await newest('browse.search', { contains: 'gold-drop', limit: 100 })
    expect(text.events).toHaveLength(8)
    expect(new Set(text.events.map((e) => e.partition))).toEqual(new Set([0, 1]))
    expect(text.events.every((e) => e.data.note === 'gold-drop')).toBe(true)
    const field = await newest('browse.search', { field: { path: '$.player', equals: 'p7' }, limit: 3 })
    expect(field.events).toHaveLength(3)
    expect(field.events.every((e) => e.data.player === 'p7')).toBe(true)
    // "p7" is a substring of "p17": a field search matches the value, not the text
    const more = await newest('browse.search', {
      field: { path: 'player', equals: 'p7' },
      limit: 100,
      before: field.before,
    })
    expect(more.events).toHaveLength(5)
    const byKey = await newest('browse.search', { contains: 'gold-drop', key: 'k2', limit: 100 })
    expect(byKey.events.every((e) => e.key === 'k2')).toBe(true)
    expect(byKey.events.length).toBeGreaterThan(0)
    expect(byKey.events.length).toBeLessThan(8)
  })

  it('walks a long partition a window at a time to a rare match, and says when nothing is left', async () => {
    await createTopic(broker.url, 'browse.long')
    const total = SCAN_WINDOW * 2 + 2000
    const rare = new Set([5, SCAN_WINDOW * 2 + 1000])
    await publish('browse.long', (i) => ({ i, tag: rare.has(i) ? 'needle' : 'hay' }), total)
    const found: number[] = []
    let pages = 0
    let page = await newest('browse.long', { contains: 'needle', limit: 1 })
    for (;;) {
      pages++
      found.push(...page.events.map((e) => Number(e.offset)))
      if (page.done || pages > 10) break
      page = await newest('browse.long', { contains: 'needle', limit: 1, before: page.before })
    }
    expect(found).toEqual([SCAN_WINDOW * 2 + 1000, 5])
    expect(page.done).toBe(true)
    // no page looked at more than its window: the one that found nothing stopped a window lower
    expect(pages).toBeGreaterThanOrEqual(3)
  })

  it('refuses a bad path, partition or window position with the field path', async () => {
    await createTopic(broker.url, 'browse.bad')
    const path = await trpcCall(broker.url, 'query', 'events.newest', {
      topic: 'browse.bad',
      query: { field: { path: 'a..b', equals: '1' } },
    })
    expect(path.status).toBe(400)
    expect(path.body.error.data.questlog.details.issues[0].path).toBe('query.field.path')
    const part = await trpcCall(broker.url, 'query', 'events.newest', {
      topic: 'browse.bad',
      query: { before: [{ partition: 9, offset: 1 }] },
    })
    expect(part.status).toBe(400)
    const empty = await newest('browse.bad', {})
    expect(empty).toMatchObject({ events: [], done: true })
  })
})
