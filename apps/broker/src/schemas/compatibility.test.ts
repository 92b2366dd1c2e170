import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { canRead, checkCompatibility } from './compatibility'

const json = (s: z.ZodType) => z.toJSONSchema(s) as Record<string, unknown>

const v1 = z.object({
  player: z.string(),
  score: z.number().int().min(0),
  mode: z.enum(['ranked', 'casual']),
})

describe('schema compatibility', () => {
  it('accepts an optional new field and a widened enum as backward compatible', () => {
    const v2 = v1.extend({ mode: z.enum(['ranked', 'casual', 'arena']), region: z.string().optional() })
    expect(checkCompatibility('backward', json(v1), json(v2))).toEqual([])
  })

  it('refuses a new required field, a narrowed enum, a changed type and a tighter bound, naming the field', () => {
    const paths = (next: z.ZodType) => checkCompatibility('backward', json(v1), json(next)).map((i) => i.path)
    expect(paths(v1.extend({ region: z.string() }))).toContain('region')
    expect(paths(v1.extend({ mode: z.enum(['ranked']) }))).toContain('mode')
    expect(paths(v1.extend({ score: z.string() }))).toContain('score')
    expect(paths(v1.extend({ score: z.number().int().min(10) }))).toContain('score')
  })

  it('forward and full check the other direction too', () => {
    const v2 = v1.extend({ region: z.string().optional() })
    // v1 refuses extra fields, so v1 readers cannot read v2 events that carry `region`
    expect(checkCompatibility('forward', json(v1), json(v2)).map((i) => i.path)).toContain('region')
    expect(checkCompatibility('full', json(v1), json(v2)).length).toBeGreaterThan(0)
    expect(checkCompatibility('none', json(v1), json(z.number()))).toEqual([])
  })

  it('every schema can read what it wrote itself', () => {
    const leaf = fc.constantFrom<z.ZodType>(
      z.string(),
      z.number(),
      z.number().int().min(0),
      z.boolean(),
      z.enum(['a', 'b']),
      z.string().max(10),
      z.array(z.string()),
    )
    const objects = fc
      .dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.tuple(leaf, fc.boolean()), { minKeys: 1 })
      .map((shape) =>
        z.object(
          Object.fromEntries(Object.entries(shape).map(([k, [s, opt]]) => [k, opt ? s.optional() : s])),
        ),
      )
    fc.assert(
      fc.property(objects, (schema) => {
        expect(canRead(json(schema), json(schema))).toEqual([])
      }),
    )
  })

  it('adding an optional field to an open object is always backward compatible', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('x', 'y', 'z'),
        fc.constantFrom<z.ZodType>(z.string(), z.number(), z.boolean()),
        (name, type) => {
          const before = z.looseObject({ id: z.string() })
          const after = z.looseObject({ id: z.string(), [name]: type.optional() })
          // an open object accepted anything under the new name before: only a schema-less field stays readable
          const problems = checkCompatibility('backward', json(before), json(after))
          expect(problems.every((p) => p.path === name)).toBe(true)
          expect(
            checkCompatibility(
              'backward',
              json(z.object({ id: z.string() })),
              json(z.object({ id: z.string(), [name]: type.optional() })),
            ),
          ).toEqual([])
        },
      ),
    )
  })
})
