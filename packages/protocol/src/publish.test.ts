import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { publishBatchSchema, publishEventSchema, quickPublishEvents } from './publish'

/** Mostly a valid value, sometimes one at or past a limit of the schema, as JSON.parse would hand it over. */
const field = <T, U>(valid: fc.Arbitrary<T>, off: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: off })
const text = (max: number) =>
  field(
    fc.oneof(fc.string({ minLength: 1, maxLength: 6 }), fc.constant('x'.repeat(max))),
    fc.constantFrom('', 'x'.repeat(max + 1), 7, null),
  )
const integer = (min: number) =>
  field(fc.integer({ min, max: 2 ** 31 }), fc.constantFrom(min - 1, 0.5, 2 ** 53, '1', Number.MAX_VALUE))
const common = fc.record(
  {
    type: field(
      fc.constantFrom('game.kill', 'a', 'x:y-z_1.b', 'x'.repeat(255)),
      fc.constantFrom('game..kill', '', 'game.*', 'x'.repeat(256), 3),
    ),
    key: text(512),
    dedupeKey: text(512),
    source: text(512),
    id: text(256),
    contentType: text(256),
    partition: integer(0),
    schemaVersion: integer(1),
    headers: field(
      fc.dictionary(fc.string({ minLength: 1, maxLength: 3 }), fc.string({ maxLength: 3 })),
      fc.constantFrom({ ['h'.repeat(257)]: 'v' }, { h: 'v'.repeat(8193) }, { '': 'v' }, { h: 1 }, [], null),
    ),
    data: field(
      fc.jsonValue(),
      fc.constantFrom(Number.POSITIVE_INFINITY, { deep: [1, { x: Number.NEGATIVE_INFINITY }] }),
    ),
  },
  { requiredKeys: ['data'] },
)
/** Now and then no data, base64 data as well, or a field the schema does not know. */
const rare = fc.option(
  fc.oneof(
    fc.constantFrom({ data: undefined }, { dataBase64: 'aGk=' }, { dataBase64: 'not base64!' }, { extra: 1 }),
    // a producer sequence: both fields, one alone, or past a limit
    fc.record({ producer: text(128), seq: integer(0) }),
    fc.record({ producer: text(128) }),
    fc.record({ seq: integer(0) }),
  ),
  { freq: 4 },
)
const event = fc.tuple(common, rare).map(([e, r]) => {
  const out: Record<string, unknown> = { ...e, ...r }
  if ('data' in out && out.data === undefined) delete out.data
  return out
})

describe('quickPublishEvents', () => {
  it('accepts only what the schemas accept, with the same values', () => {
    let taken = 0
    let refused = 0
    fc.assert(
      fc.property(event, (e) => {
        const quick = quickPublishEvents(e, false)
        const zod = publishEventSchema.safeParse(e)
        if (!zod.success) refused++
        if (quick !== undefined) {
          taken++
          expect(zod.success).toBe(true)
          expect(quick).toEqual([zod.data])
        }
      }),
      { numRuns: 3000 },
    )
    // both sides of the property were exercised
    expect(taken).toBeGreaterThan(100)
    expect(refused).toBeGreaterThan(100)
    fc.assert(
      fc.property(fc.array(event, { maxLength: 4 }), fc.boolean(), (events, extra) => {
        const body = extra ? { events, more: 1 } : { events }
        const quick = quickPublishEvents(body, true)
        const zod = publishBatchSchema.safeParse(body)
        if (quick !== undefined) {
          expect(zod.success).toBe(true)
          expect(quick).toEqual(zod.data?.events)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('takes the plain shapes producers send without the schemas', () => {
    const events = [
      { data: { kills: 3 } },
      { type: 'game.kill', key: 'p-1', dedupeKey: 'd-1', partition: 0, headers: { region: 'eu' }, data: [1] },
      { producer: 'c7x', seq: 41, data: 'numbered' },
    ]
    expect(quickPublishEvents({ events }, true)).toBe(events)
    expect(quickPublishEvents({ data: null }, false)).toEqual([{ data: null }])
    // left to the schemas, which name the field
    expect(quickPublishEvents({ events: [{ data: 1 }, { data: 1, partition: -1 }] }, true)).toBeUndefined()
    expect(quickPublishEvents({ dataBase64: 'aGk=' }, false)).toBeUndefined()
    expect(quickPublishEvents({ events: [] }, true)).toBeUndefined()
    expect(quickPublishEvents({ producer: 'c7x', data: 1 }, false)).toBeUndefined()
    expect(quickPublishEvents({ producer: 'c7x', seq: 1, dedupeKey: 'd', data: 1 }, false)).toBeUndefined()
    expect(quickPublishEvents(JSON.parse('{"data":{"__proto__":1}}'), false)).toBeUndefined()
    expect(quickPublishEvents(JSON.parse('{"data":[1e400]}'), false)).toBeUndefined()
  })
})
