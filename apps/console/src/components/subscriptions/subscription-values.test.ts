import { describe, expect, it } from 'vitest'
import { parsePosition } from './position'
import { checkSubscription, EMPTY_SUBSCRIPTION, formField } from './subscription-values'

describe('checkSubscription', () => {
  it('sends only what was typed, with numbers as numbers', () => {
    const checked = checkSubscription({
      ...EMPTY_SUBSCRIPTION,
      name: ' analytics ',
      topic: 'game.*',
      mode: 'queue',
      from: 'offset',
      fromValue: '42',
      maxDeliveries: '3',
    })
    expect(checked).toEqual({
      ok: true,
      input: {
        name: 'analytics',
        topic: 'game.*',
        mode: 'queue',
        ordering: 'none',
        from: { offset: 42 },
        maxDeliveries: 3,
      },
    })
  })

  it('sends key ordering for a queue, and no ordering for a stream', () => {
    const values = { ...EMPTY_SUBSCRIPTION, name: 'rewards', topic: 'game.kills', ordering: 'key' as const }
    const queue = checkSubscription({ ...values, mode: 'queue' })
    expect(queue.ok && queue.input.ordering).toBe('key')
    const stream = checkSubscription({ ...values, mode: 'stream' })
    expect(stream.ok && 'ordering' in stream.input).toBe(false)
    expect(formField('ordering')).toBe('ordering')
  })

  it('puts each problem beside its field', () => {
    const checked = checkSubscription({
      ...EMPTY_SUBSCRIPTION,
      name: 'bad name',
      topic: 'game..x',
      from: 'time',
      fromValue: 'yesterday-ish',
      ackWaitMs: 'soon',
    })
    expect(checked.ok).toBe(false)
    if (checked.ok) return
    expect(Object.keys(checked.errors).sort()).toEqual(['ackWaitMs', 'fromValue', 'name', 'topic'])
    expect(checked.errors.ackWaitMs).toBe('enter a number')
  })
})

describe('positions and field paths', () => {
  it('reads every kind of start position', () => {
    expect(parsePosition('earliest', 'ignored')).toEqual({ ok: true, value: 'earliest' })
    expect(parsePosition('time', '15m')).toEqual({ ok: true, value: { time: '15m' } })
    expect(parsePosition('offset', '1.5')).toEqual({ ok: false, error: 'enter a whole number' })
    expect(parsePosition('offset', '-1').ok).toBe(false)
  })

  it("maps the broker's issue paths onto the form's fields", () => {
    expect(formField('from.offset')).toBe('fromValue')
    expect(formField('maxDeliveries')).toBe('maxDeliveries')
    expect(formField('webhook.url')).toBe('form')
  })
})
