import { describe, expect, it } from 'vitest'
import type { EventSubscription, ReceivedEvent, SubscribeOptions } from './subscription'
import { LiveTable, type TableChange, type TableSource } from './table'

type Row = { v: number }

/** A source with a snapshot in pages and a subscription the test feeds by hand. */
function source(pages: Array<{ events: Array<[string, Row]>; page: string | null }>) {
  const asked: string[] = []
  let subscribedWith: SubscribeOptions | undefined
  const pending: Array<ReceivedEvent<Row | null>> = []
  let wake: (() => void) | undefined
  let closed = false
  const sub: EventSubscription<Row | null> = {
    cursor: undefined,
    positions: {},
    close() {
      closed = true
      wake?.()
    },
    async *[Symbol.asyncIterator]() {
      while (!closed) {
        const next = pending.shift()
        if (next) yield next
        else await new Promise<void>((r) => (wake = r))
      }
    },
  }
  const s: TableSource<Row> = {
    topic: 'players.profiles',
    async getJson<R>(path: string): Promise<R> {
      asked.push(path)
      const i = asked.length - 1
      const p = pages[i]!
      return {
        events: p.events.map(([key, data]) => ({ key, data })),
        cursor: 'C0',
        page: p.page,
      } as R
    },
    subscribe(o) {
      subscribedWith = o
      return sub
    },
  }
  const push = (key: string, data: Row | null) => {
    pending.push({ key, data } as ReceivedEvent<Row | null>)
    wake?.()
  }
  return { s, asked, push, subscribed: () => subscribedWith, closed: () => closed }
}

const settle = () => new Promise((r) => setTimeout(r, 0))

describe('LiveTable', () => {
  it('reads every snapshot page, then follows from the first page’s cursor; tombstones delete', async () => {
    const src = source([
      {
        events: [
          ['a', { v: 1 }],
          ['b', { v: 2 }],
        ],
        page: 'P1',
      },
      { events: [['c', { v: 3 }]], page: null },
    ])
    const table = new LiveTable<Row>(src.s, { pageSize: 2 })
    await table.ready
    expect(src.asked).toEqual([
      '/v1/topics/players.profiles/snapshot?limit=2',
      '/v1/topics/players.profiles/snapshot?limit=2&page=P1',
    ])
    expect(src.subscribed()).toEqual({ cursor: 'C0' })
    expect(new Map(table)).toEqual(
      new Map([
        ['a', { v: 1 }],
        ['b', { v: 2 }],
        ['c', { v: 3 }],
      ]),
    )
    const changes: Array<TableChange<Row>> = []
    table.on('change', (c) => changes.push(c))
    src.push('a', { v: 4 })
    src.push('b', null)
    src.push('zz', null) // a tombstone of a key the table does not hold changes nothing
    src.push('d', { v: 5 })
    await settle()
    expect(changes.map((c) => [c.type, c.key, c.previous])).toEqual([
      ['set', 'a', { v: 1 }],
      ['delete', 'b', { v: 2 }],
      ['set', 'd', undefined],
    ])
    expect([...table.keys()].sort()).toEqual(['a', 'c', 'd'])
    expect(table.get('a')).toEqual({ v: 4 })
    expect(table.has('b')).toBe(false)
    table.close()
    expect(src.closed()).toBe(true)
  })

  it('rejects `ready` and tells the error listeners when the snapshot cannot be read', async () => {
    const failing: TableSource<Row> = {
      topic: 't',
      getJson: () => Promise.reject(new Error('no such topic')),
      subscribe: () => {
        throw new Error('must not subscribe')
      },
    }
    const errors: Error[] = []
    const table = new LiveTable<Row>(failing)
    table.on('error', (e) => errors.push(e))
    await expect(table.ready).rejects.toThrow('no such topic')
    expect(errors.map((e) => e.message)).toEqual(['no such topic'])
  })
})
