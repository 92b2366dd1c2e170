import { describe, expect, it } from 'vitest'
import { columnsOf } from './columns'

const ev = (i: number, extra: object = {}) => ({
  data: { n: i },
  producer: 'p',
  seq: i,
  id: `id-${i}`,
  ...extra,
})

describe('columnsOf', () => {
  it('puts a batch of payloads with ids, seqs and keys in columns, the payloads as one JSON array', () => {
    const c = columnsOf([ev(1, { key: 'a' }), ev(2), ev(3, { key: 'b' })])
    expect(c).toBeDefined()
    expect(JSON.parse(c!.payloads)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
    expect(JSON.parse(`{"op":"publish"${c!.columns}}`)).toEqual({
      op: 'publish',
      producer: 'p',
      seqs: [1, 2, 3],
      ids: ['id-1', 'id-2', 'id-3'],
      keys: ['a', null, 'b'],
    })
  })

  it('leaves to a JSON frame the batches columns cannot carry', () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    for (const odd of [
      { type: 'game.kill' },
      { headers: { a: 'b' } },
      { partition: 1 },
      { producer: 'other' },
      { data: undefined },
      { data: () => 1 },
      { data: cycle },
      { data: 1n },
    ]) {
      expect(columnsOf([ev(1), ev(2, odd)])).toBeUndefined()
    }
    expect(columnsOf([{ data: 1, dedupeKey: 'k', id: 'x' }])).toBeUndefined()
  })
})
