import { isQuestlogError } from '@questlog/protocol'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BoundedBuffer, type OverrunPolicy } from './buffer'

describe('BoundedBuffer', () => {
  it('drop-oldest evicts the head and reports it', () => {
    const dropped: number[] = []
    const b = new BoundedBuffer<number>(3, 'drop-oldest', (n) => dropped.push(n))
    for (let i = 0; i < 5; i++) b.push(i)
    expect(b.shift(10)).toEqual([2, 3, 4])
    expect(dropped).toEqual([0, 1])
    expect(b.dropped).toBe(2)
  })

  it('drop-newest refuses the new item and reports it', () => {
    const dropped: number[] = []
    const b = new BoundedBuffer<number>(3, 'drop-newest', (n) => dropped.push(n))
    for (let i = 0; i < 5; i++) b.push(i)
    expect(b.shift(10)).toEqual([0, 1, 2])
    expect(dropped).toEqual([3, 4])
    expect(b.dropped).toBe(2)
  })

  it('error throws a typed BufferFullError and keeps what it had', () => {
    const b = new BoundedBuffer<number>(2, 'error')
    b.push(1)
    b.push(2)
    let caught: unknown
    try {
      b.push(3)
    } catch (e) {
      caught = e
    }
    expect(isQuestlogError(caught) && caught.name).toBe('BufferFullError')
    expect(isQuestlogError(caught) && caught.code).toBe('backpressure')
    expect(b.shift(10)).toEqual([1, 2])
  })

  it('block waits for room, then enqueues in order', async () => {
    const b = new BoundedBuffer<number>(2, 'block')
    expect(b.push(1)).toBeUndefined()
    expect(b.push(2)).toBeUndefined()
    let third = false
    const p3 = b.push(3)!.then(() => {
      third = true
    })
    const p4 = b.push(4)
    expect(b.waiting).toBe(2)
    await new Promise((r) => setTimeout(r, 10))
    expect(third).toBe(false)
    expect(b.shift(1)).toEqual([1])
    await p3
    expect(third).toBe(true)
    expect(b.shift(1)).toEqual([2])
    await p4
    expect(b.shift(10)).toEqual([3, 4])
    expect(b.dropped).toBe(0)
  })

  it('wakes a waiter when an item arrives', async () => {
    const b = new BoundedBuffer<string>(4, 'error')
    const waiting = b.whenNotEmpty()
    setTimeout(() => b.push('x'), 5)
    await waiting
    expect(b.length).toBe(1)
  })

  it('keeps FIFO order and its bound under any mix of pushes and takes (against an array model)', () => {
    const op = fc.oneof(
      fc.constant<'take'>('take'),
      fc.nat({ max: 3 }).map((n) => ({ shift: n })),
      fc.integer(),
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom<OverrunPolicy>('drop-oldest', 'drop-newest', 'error'),
        fc.array(op, { maxLength: 300 }),
        (capacity, policy, ops) => {
          const dropped: number[] = []
          const b = new BoundedBuffer<number>(capacity, policy, (n) => dropped.push(n))
          const model: number[] = []
          const modelDropped: number[] = []
          for (const o of ops) {
            if (o === 'take') expect(b.take()).toBe(model.shift())
            else if (typeof o === 'object') expect(b.shift(o.shift)).toEqual(model.splice(0, o.shift))
            else if (model.length < capacity) {
              b.push(o)
              model.push(o)
            } else if (policy === 'drop-oldest') {
              b.push(o)
              modelDropped.push(model.shift()!)
              model.push(o)
            } else if (policy === 'drop-newest') {
              b.push(o)
              modelDropped.push(o)
            } else expect(() => b.push(o)).toThrow(/is full/)
            expect(b.length).toBe(model.length)
            expect(b.length).toBeLessThanOrEqual(capacity)
          }
          for (let i = 0; i < model.length; i++) expect(b.at(i)).toBe(model[i])
          expect(b.at(model.length)).toBeUndefined()
          expect(dropped).toEqual(modelDropped)
          expect(b.dropped).toBe(modelDropped.length)
        },
      ),
    )
  })
})
