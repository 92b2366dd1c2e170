import { describe, expect, it } from 'vitest'
import { checkReplay, EMPTY_REPLAY } from './replay-values'

describe('checkReplay', () => {
  it('builds an offset replay into a subscription with a pace', () => {
    const checked = checkReplay({
      ...EMPTY_REPLAY,
      topic: 'game.events',
      fromOffset: '10',
      toOffset: '20',
      type: 'game.kill',
      targetName: 'analytics-replay',
      maxEventsPerSecond: '100',
    })
    expect(checked.ok && checked.input).toMatchObject({
      topic: 'game.events',
      fromOffset: 10,
      toOffset: 20,
      filter: { type: 'game.kill' },
      target: { subscription: 'analytics-replay' },
      maxEventsPerSecond: 100,
    })
  })

  it('builds a time replay into a topic and leaves the offsets out', () => {
    const checked = checkReplay({
      ...EMPTY_REPLAY,
      topic: 'game.events',
      range: 'time',
      since: '2h',
      until: '1h',
      target: 'topic',
      targetName: 'game.events.again',
    })
    expect(checked.ok && checked.input).toEqual({
      topic: 'game.events',
      since: '2h',
      until: '1h',
      filter: {},
      target: { topic: 'game.events.again' },
    })
  })

  it('says which field is wrong', () => {
    const backwards = checkReplay({
      ...EMPTY_REPLAY,
      topic: 't',
      fromOffset: '9',
      toOffset: '3',
      targetName: 's',
    })
    expect(!backwards.ok && backwards.errors.toOffset).toBe('toOffset is before fromOffset')
    const noTarget = checkReplay({ ...EMPTY_REPLAY, topic: 't', targetName: 'bad name' })
    expect(!noTarget.ok && noTarget.errors.targetName).toBeTruthy()
    const noRange = checkReplay({ ...EMPTY_REPLAY, topic: 't', fromOffset: '', targetName: 's' })
    expect(!noRange.ok && noRange.errors.fromOffset).toContain('give an offset range')
  })
})
