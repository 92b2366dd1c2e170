import type { BrokerHealth, BrokerInfo } from '@questlog/protocol'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_ROUTER, degradation, Router, type RouterOptions } from './router'

const OK: BrokerHealth = { status: 'ok', load: 0, lag_ms: 0, db_latency_ms: 1, connections: 0 }
const broker = (id: string, h: Partial<BrokerHealth> = {}): BrokerInfo => ({
  id,
  url: `http://${id}`,
  health: { ...OK, ...h },
})

/** A router over brokers a, b, c with a clock the test moves. */
function setup(o: Partial<RouterOptions> = {}, random = () => 0) {
  let t = 0
  const r = new Router(
    ['http://a', 'http://b', 'http://c'],
    { ...DEFAULT_ROUTER, ...o },
    (u) => u,
    true,
    random,
    () => t,
  )
  return {
    r,
    advance: (ms: number) => {
      t += ms
    },
  }
}

describe('degradation', () => {
  it('grows with every figure, and does not score a broker that drains or is down', () => {
    expect(degradation(OK)).toBeCloseTo(0.2)
    expect(degradation({ ...OK, status: 'degraded' })).toBeGreaterThanOrEqual(100)
    expect(degradation({ ...OK, lag_ms: 500 })).toBeGreaterThanOrEqual(100)
    expect(degradation({ ...OK, db_latency_ms: null })).toBeGreaterThanOrEqual(100)
    expect(degradation({ ...OK, load: 20 })).toBeGreaterThanOrEqual(100)
    expect(degradation({ ...OK, draining: true })).toBe(Number.POSITIVE_INFINITY)
    expect(degradation({ ...OK, status: 'down' })).toBe(Number.POSITIVE_INFINITY)
  })
})

describe('Router', () => {
  it('starts on the first URL given, then moves to the healthiest once the figures are known', () => {
    const { r } = setup()
    expect(r.next()).toEqual({ url: 'http://a', why: 'first' })
    r.connected('http://a', 'a')
    const move = r.observe([broker('a', { load: 8 }), broker('b', { load: 1 }), broker('c', { load: 4 })])
    expect(move).toEqual({ url: 'http://b', why: 'healthiest', from: 'a' })
    // a client that knows the figures goes straight there
    expect(r.next()).toEqual({ url: 'http://b', why: 'healthiest' })
  })

  it('stays on a first broker that is about as good as the best (within the spread)', () => {
    const { r } = setup()
    r.connected('http://a', 'a')
    expect(r.observe([broker('a', { load: 0.6 }), broker('b', { load: 0 }), broker('c')])).toBeUndefined()
  })

  it('is sticky below the threshold, leaves after it for a healthy broker, and not before minStayMs', () => {
    const { r, advance } = setup({ minStayMs: 1000 })
    r.connected('http://b', 'b')
    const all = (b: Partial<BrokerHealth>, c: Partial<BrokerHealth> = {}) =>
      r.observe([broker('a', { load: 2 }), broker('b', b), broker('c', c)])
    expect(all({})).toBeUndefined()
    // worse than the others, but under the threshold: it stays
    expect(all({ load: 19 })).toBeUndefined()
    // over the threshold, but not on it for minStayMs yet
    expect(all({ load: 25 })).toBeUndefined()
    advance(1000)
    expect(all({ load: 25 }, { load: 30 })).toEqual({ url: 'http://a', why: 'degraded', from: 'b' })
  })

  it('does not leave when no other broker is healthy: everyone equally loaded stays put', () => {
    const { r, advance } = setup({ minStayMs: 0 })
    r.connected('http://a', 'a')
    advance(1)
    const busy = { load: 21 }
    expect(r.observe([broker('a', busy), broker('b', busy), broker('c', busy)])).toBeUndefined()
    // one between the thresholds is not healthy enough to move to
    expect(r.observe([broker('a', busy), broker('b', { load: 15 }), broker('c', busy)])).toBeUndefined()
    expect(r.observe([broker('a', busy), broker('b', { load: 11 }), broker('c', busy)])).toEqual({
      url: 'http://b',
      why: 'degraded',
      from: 'a',
    })
  })

  it('hysteresis: a broker left for its score is not taken again until it falls under healthyBelow', () => {
    const { r, advance } = setup({ minStayMs: 0 })
    r.connected('http://a', 'a')
    advance(1)
    // a crosses the line: the client moves to b
    expect(r.observe([broker('a', { load: 21 }), broker('b'), broker('c', { load: 30 })])?.url).toBe(
      'http://b',
    )
    r.connected('http://b', 'b')
    advance(1)
    // b degrades; a is back under leaveAbove but not under healthyBelow: not a target yet
    expect(r.observe([broker('a', { load: 15 }), broker('b', { load: 25 }), broker('c', { load: 30 })])).toBe(
      undefined,
    )
    expect(r.view().find((c) => c.id === 'a')?.unhealthy).toBe(true)
    expect(
      r.observe([broker('a', { load: 11 }), broker('b', { load: 25 }), broker('c', { load: 30 })]),
    ).toEqual({
      url: 'http://a',
      why: 'degraded',
      from: 'b',
    })
  })

  it('leaves a draining broker at once, whatever minStayMs, and never picks one', () => {
    const { r } = setup({ minStayMs: 60_000 })
    r.connected('http://a', 'a')
    r.observe([broker('a'), broker('b'), broker('c', { load: 3 })])
    const move = r.observe([
      broker('a', { draining: true }),
      broker('b', { draining: true }),
      broker('c', { load: 3 }),
    ])
    expect(move).toEqual({ url: 'http://c', why: 'draining', from: 'a' })
    r.connected('http://c', 'c')
    expect(r.next()).toMatchObject({ url: 'http://c' })
  })

  it('after a lost connection, does not try the lost broker again within the cooldown', () => {
    const { r, advance } = setup({ failureCooldownMs: 5000 })
    r.connected('http://a', 'a')
    r.observe([broker('a'), broker('b', { load: 1 }), broker('c', { load: 2 })])
    r.failed('http://a')
    // the live set still lists a (its death shows only after the dead-after time)
    expect(r.next('http://a')).toEqual({ url: 'http://b', why: 'lost', from: 'a' })
    r.failed('http://b')
    expect(r.next('http://b')).toEqual({ url: 'http://c', why: 'lost', from: 'b' })
    r.failed('http://c')
    // every one failed lately: the one that failed longest ago
    expect(r.next('http://c').url).toBe('http://a')
    advance(5000)
    expect(r.next().url).toBe('http://a')
  })

  it('adds brokers the live set names beyond the URLs given, unless discovery is off', () => {
    const r = new Router(['http://a'])
    r.connected('http://a', 'a')
    r.observe([broker('a', { load: 10 }), broker('d')])
    expect(r.view().map((c) => c.url)).toEqual(['http://a', 'http://d'])
    const fixed = new Router(['http://a'], DEFAULT_ROUTER, (u) => u, false)
    fixed.connected('http://a', 'a')
    expect(fixed.observe([broker('a', { load: 10 }), broker('d')])).toBeUndefined()
    expect(fixed.view().map((c) => c.url)).toEqual(['http://a'])
    // a discovered broker gone from the live set is forgotten; a given one is kept, without figures
    r.observe([broker('a')])
    expect(r.view()).toEqual([
      { url: 'http://a', id: 'a', score: expect.any(Number), unhealthy: false, cooling: false },
    ])
  })

  it('spreads clients over brokers about as healthy as each other', () => {
    const picks = new Set<string>()
    for (const x of [0, 0.4, 0.9]) {
      const { r } = setup({}, () => x)
      r.observe([broker('a'), broker('b', { load: 0.5 }), broker('c', { load: 0.8 })])
      picks.add(r.next().url)
    }
    expect(picks).toEqual(new Set(['http://a', 'http://b', 'http://c']))
  })

  it('never moves to a draining, down or cooling broker, nor off a healthy one (property)', () => {
    const health = fc.record({
      status: fc.constantFrom<BrokerHealth['status']>('ok', 'degraded', 'down'),
      load: fc.double({ min: 0, max: 40, noNaN: true }),
      lag_ms: fc.double({ min: 0, max: 1000, noNaN: true }),
      db_latency_ms: fc.option(fc.double({ min: 0, max: 1000, noNaN: true }), { nil: null }),
      connections: fc.nat(5000),
      draining: fc.boolean(),
    })
    const step = fc.record({
      a: health,
      b: health,
      c: health,
      fail: fc.constantFrom('', 'b', 'c'),
      dt: fc.nat(3000),
    })
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        const { r, advance } = setup({ minStayMs: 2000 })
        let on = 'http://a'
        r.connected(on, 'a')
        for (const s of steps) {
          advance(s.dt)
          if (s.fail) r.failed(`http://${s.fail}`)
          const set = [
            { id: 'a', url: 'http://a', health: s.a },
            { id: 'b', url: 'http://b', health: s.b },
            { id: 'c', url: 'http://c', health: s.c },
          ]
          const here = set.find((b) => b.url === on)!.health
          const move = r.observe(set)
          if (!move) continue
          const to = set.find((b) => b.url === move.url)!.health
          expect(move.url).not.toBe(on)
          expect(to.draining || to.status === 'down').toBe(false)
          expect(r.view().find((c) => c.url === move.url)?.cooling).toBe(false)
          if (move.why === 'degraded')
            expect(degradation(here)).toBeGreaterThanOrEqual(DEFAULT_ROUTER.healthyBelow)
          if (move.why === 'draining') expect(here.draining || here.status === 'down').toBe(true)
          on = move.url
          r.connected(on, on.slice(7))
        }
      }),
    )
  })
})
